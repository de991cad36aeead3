// Command chatgate-load drives many Bayeux (CometD) clients against a chatgate server to
// measure what the design promises: idle sessions held and the memory each costs, and
// publish→receive latency and delivered messages per second under fan-out.
//
// Why a purpose-built tool: Bayeux needs the handshake/connect/subscribe choreography and a
// connect loop per client, and latency must be stamped in the payload; generic HTTP or
// websocket load tools do neither. Why several source addresses and processes: on the test
// machine a process may hold at most 20,000 file descriptors and one (source, destination)
// address pair has ~28k ephemeral ports, so clients dial from 127.0.0.1…127.0.0.k and, with
// -procs, the tool re-executes itself with a slice of the clients per process and merges the
// results (histograms merge exactly by adding bucket counts).
//
// Latency is measured on one machine, so sender and receiver read the same clock: publishers
// put time.Now().UnixNano() in the message data, receivers subtract it on arrival.
//
// The gms-* modes drive the GMS Chat API v2 of the whole binary instead, as widgets do: REST
// form posts or CometD operations on /service/chatV2/{svc}, each customer creating a chat and
// then sending messages one at a time, acknowledged by the answer (REST) or by the pushed
// Message event (CometD); gms-idle measures the server's memory per async chat and gms-startup
// the time from exec to ready with the chats stored under -data (see gms.go).
package main
