package main

import (
	"log/slog"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/web"
)

// newBayeux builds the Bayeux server from the configuration (every bayeux-* key, allowed
// origins and client publish channels).
func newBayeux(cfg config.Config, log *slog.Logger) (*bayeux.Server, error) {
	return bayeux.NewServer(bayeux.Config{
		Timeout:                    cfg.BayeuxTimeout,
		Interval:                   cfg.BayeuxInterval,
		MaxInterval:                cfg.BayeuxMaxInterval,
		MultiSessionInterval:       cfg.BayeuxMultiSessionInterval,
		MaxSessionsPerBrowser:      cfg.BayeuxMaxSessionsPerBrowser,
		HandshakesPerMinute:        offIfZero(cfg.BayeuxHandshakesPerMinute),
		HandshakeBurst:             cfg.BayeuxHandshakeBurst,
		MaxQueue:                   cfg.BayeuxMaxQueue,
		MaxQueueBytes:              cfg.BayeuxMaxQueueBytes,
		MaxTotalQueueBytes:         cfg.BayeuxMaxTotalQueueBytes,
		MaxSubscriptionsPerSession: cfg.BayeuxMaxSubsPerSession,
		MaxSubscriptionsPerBrowser: cfg.BayeuxMaxSubsPerBrowser,
		MaxSubscriptions:           cfg.BayeuxMaxSubscriptions,
		MaxRequestBytes:            cfg.BayeuxMaxRequestBytes,
		MaxMessagesPerBatch:        cfg.BayeuxMaxMessagesPerBatch,
		MaxMessageBytes:            cfg.BayeuxMaxMessageBytes,
		TrustClientSession:         cfg.BayeuxTrustClientSession,
		AllowedOrigins:             cfg.AllowedOrigins,
		ClientPublishChannels:      cfg.ClientPublishChannels,
		TestEcho:                   cfg.BayeuxTestEcho,
		Logger:                     log.With("component", "bayeux"),
	})
}

// offIfZero maps a configuration limit where 0 means off to bayeux.Config, where 0 means the
// default and a negative value off.
func offIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// bayeuxStats adapts bayeux.Stats to the metrics collector's snapshot.
func bayeuxStats(srv *bayeux.Server) func() web.BayeuxStats {
	return func() web.BayeuxStats {
		st := srv.Stats()
		return web.BayeuxStats{
			Sessions: st.Sessions, Connections: st.Connections,
			MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut, QueueDrops: st.QueueDrops,
			QueuedBytes: st.QueuedBytes, Subscriptions: st.Subscriptions, Refusals: st.Refusals,
		}
	}
}
