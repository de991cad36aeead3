// Package chatoptions serves the live chat options of every service: the config file's chat
// sections ([settings], [inactivity-control], [client-file-transfer] and routing, in "chat"
// and "chat.<service>"), with the overrides an admin sets through the API
// (/admin/options/...) layered on top, per scope.
//
// Why a JetStream KV bucket (CHATGATE_OPTIONS) for the overrides: they must be cluster-wide
// and survive restarts, like the accounts and the routing state. Every node watches the
// bucket and applies what it sees, including its own writes: a PUT is stored first, then
// applied by the same watch on every node, so there is one path from a change to running
// chats (core OptionsChanged + the router's services), and a node that was down reads the
// bucket at start before it loads any chat.
//
// Why the layering is per scope (built-in defaults < file "chat" < API defaults < file
// "chat.<service>" < API service): a value set for one service keeps beating one set for all,
// whichever side set it, and an API value beats the file's value of the same scope. A SIGHUP
// re-reads the file below the overrides; it does not drop them (DELETE does).
//
// Why one validator: the merged layers are parsed by exactly the code that parses the file
// (config.ParseChatSections for the JSON shape, chatcore.Options.With and
// routing.ParseSettings for the meaning), so the API refuses precisely what a file reload
// would, and its 400 answer names each refused option (chatcore.OptionError).
package chatoptions
