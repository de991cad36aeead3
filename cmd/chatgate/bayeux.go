package main

import (
	"fmt"
	"log/slog"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/web"
)

// newBayeux builds the Bayeux server from the configuration, with policy (the agent side's
// handshake and subscription rules).
func newBayeux(cfg config.Config, log *slog.Logger, policy bayeux.Policy) (*bayeux.Server, error) {
	if len(cfg.PublicOrigins) == 0 {
		log.Info("public-origins is empty: on /genesys/cometd only loopback pages count as same-origin; set it to the origin browsers use for this server (e.g. https://chat.example.com)")
	}
	c := bayeuxConfig(cfg)
	c.Logger = log.With("component", "bayeux")
	c.Policy = policy
	c.ClientAddress = web.ClientAddress // trusted-proxies, as resolved by the HTTP surface
	return bayeux.NewServer(c)
}

// checkBayeux applies the bayeux package's own rules (bayeux.Config.Validate, the one place
// they live) to the configuration, as a configuration error: cli reports it like any other
// bad setting (exit status 2) before anything starts.
func checkBayeux(cfg config.Config) error {
	if err := bayeuxConfig(cfg).Validate(); err != nil {
		return fmt.Errorf("%w: bayeux settings (allowed-origins, public-origins, client-publish-channels, bayeux-*): %w", config.ErrInvalid, err)
	}
	return nil
}

// bayeuxConfig maps every bayeux-* key, allowed origins and client publish channels.
func bayeuxConfig(cfg config.Config) bayeux.Config {
	return bayeux.Config{
		Timeout:                    cfg.BayeuxTimeout,
		Interval:                   cfg.BayeuxInterval,
		MaxInterval:                cfg.BayeuxMaxInterval,
		MultiSessionInterval:       cfg.BayeuxMultiSessionInterval,
		MaxHeldPollsPerBrowser:     cfg.BayeuxMaxSessionsPerBrowser,
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
		PublicOrigins:              cfg.PublicOrigins,
		ClientPublishChannels:      cfg.ClientPublishChannels,
		TestEcho:                   cfg.BayeuxTestEcho,
	}
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
