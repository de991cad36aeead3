package jetstore

import "fmt"

// Stream and bucket names. They are part of the on-disk format: renaming one orphans the
// data stored under the old name.
const (
	EventsStream = "CHAT_EVENTS" // transcripts, subject chat.<chatID>.ev
	StateBucket  = "CHAT_STATE"  // chat state, key <chatID>
	FilesBucket  = "CHAT_FILES"  // uploaded files, object <chatID>/<fileID>
	KeysBucket   = "CHAT_KEYS"   // secureKey hash -> chat id, key <hex SHA-256>

	transcriptSubjects = "chat.*.ev"
)

// maxIDLen bounds chat and file IDs so subjects and keys stay small.
const maxIDLen = 128

// checkID accepts IDs made of ASCII letters, digits, '-' and '_'. Chat IDs reach the store
// from request URLs; a '.', '*' or '>' inside one would turn "chat.<id>.ev" into another
// chat's subject or a wildcard, so anything else is refused rather than escaped.
func checkID(kind, id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%w: %s id length %d", ErrInvalid, kind, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %s id has byte %#x at %d", ErrInvalid, kind, c, i)
		}
	}
	return nil
}

// transcriptSubject is the subject of a chat's transcript records; id must pass checkID.
func transcriptSubject(chatID string) string { return "chat." + chatID + ".ev" }

// fileObject is the object-store name of one uploaded file; both ids must pass checkID.
func fileObject(chatID, fileID string) string { return chatID + "/" + fileID }
