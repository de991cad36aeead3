package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// Strategy is what the sweeper does with a chat whose GCTI_Chat_AsyncCheckAt has passed.
type Strategy string

// The strategies (config key stuck-strategy).
const (
	// Off leaves due chats to an external workflow (GET /workflow/v1/chats?checkDue=1).
	Off Strategy = "off"
	// Restore restores the chat (chatcore.Core.Restore by the workflow): it needs
	// session-restore-extend-by esp or both on the chat's service.
	Restore Strategy = "restore"
	// RestoreAndRoute restores it and gives it a positive status so routing offers it.
	RestoreAndRoute Strategy = "restore-and-route"
	// End ends the chat as the server (quit reason 5).
	End Strategy = "end"
)

// ErrStrategy is returned by ParseStrategy for an unknown name.
var ErrStrategy = errors.New("sweep: unknown stuck strategy")

// ParseStrategy parses a stuck-strategy value.
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(s); st {
	case Off, Restore, RestoreAndRoute, End:
		return st, nil
	}
	return "", fmt.Errorf("%.32q (want off, restore, restore-and-route or end): %w", s, ErrStrategy)
}

// Core is what the sweeper needs of *chatcore.Core.
type Core interface {
	CheckDue() []chatcore.ChatView
	Restore(ctx context.Context, chatID string, by chatcore.RestoreBy) (chatcore.Result, error)
	RestoreAndRoute(ctx context.Context, chatID string) (chatcore.Result, error)
	EndChat(ctx context.Context, chatID, byUserID string) (chatcore.Result, error)
	EndedBefore(ctx context.Context, t time.Time, limit int) ([]string, error)
	Purge(ctx context.Context, chatID string) error
}

var _ Core = (*chatcore.Core)(nil)

// Exporter keeps a copy of an ended chat before retention purges it (web/feed's Archive
// writes its transcript to a directory). An error keeps the chat: it is exported again and
// purged at a later pass.
type Exporter interface {
	ExportChat(ctx context.Context, chatID string) error
}

// Config configures a Sweeper.
type Config struct {
	Core  Core
	Clock chatcore.Clock // the Core's clock
	// Strategy for due chats ("" = Off).
	Strategy Strategy
	// Retention: ended chats are purged this long after they ended; 0 keeps them forever.
	Retention time.Duration
	// Export, when set, is called for each chat before its purge; the purge happens only
	// after it succeeded.
	Export Exporter
	// Interval between two passes (default 30 s).
	Interval time.Duration
	// MaxPerSweep bounds the chats acted on per pass and kind (default 1000).
	MaxPerSweep int
	// OpTimeout bounds each store operation (default 10 s).
	OpTimeout time.Duration
	Logger    *slog.Logger
}

// Sweeper runs the stuck strategy and retention. Its fields are owned by Run's goroutine.
type Sweeper struct {
	cfg Config
	log *slog.Logger
	// refused remembers, per chat, the CheckAt at which the strategy was refused (the
	// service does not allow a restoration), so a refusal is logged once, not every pass.
	// Rebuilt from the due list each pass: bounded by it.
	refused map[string]int64
	passes  atomic.Uint64
	stats   struct{ purged, purgeFailed, exported, exportFailed atomic.Uint64 }
}

// Stats are the sweeper's retention counters since start.
type Stats struct {
	Passes uint64
	// Purged chats, and purges the store refused (retried next pass).
	Purged, PurgeFailures uint64
	// Exported chats (Config.Export), and exports that failed: those chats were kept.
	Exported, ExportFailures uint64
}

// Stats returns the counters.
func (s *Sweeper) Stats() Stats {
	return Stats{
		Passes: s.passes.Load(), Purged: s.stats.purged.Load(), PurgeFailures: s.stats.purgeFailed.Load(),
		Exported: s.stats.exported.Load(), ExportFailures: s.stats.exportFailed.Load(),
	}
}

// New returns a Sweeper; Run starts it.
func New(cfg Config) *Sweeper {
	if cfg.Strategy == "" {
		cfg.Strategy = Off
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.MaxPerSweep <= 0 {
		cfg.MaxPerSweep = 1000
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg, log: log, refused: map[string]int64{}}
}

// Enabled reports whether there is anything to run (a strategy or a retention).
func (s *Sweeper) Enabled() bool { return s.cfg.Strategy != Off || s.cfg.Retention > 0 }

// Run makes a pass every Interval on the clock until ctx is cancelled.
func (s *Sweeper) Run(ctx context.Context) {
	if !s.Enabled() {
		return
	}
	// Passes are due at fixed steps of Interval from the start; one that overran the next
	// step is followed by the next pass at once, without catching up the missed ones.
	next := s.cfg.Clock.Now().Add(s.cfg.Interval)
	for {
		t := s.cfg.Clock.Timer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		s.pass(ctx)
		s.passes.Add(1)
		next = next.Add(s.cfg.Interval)
		if now := s.cfg.Clock.Now(); next.Before(now) {
			next = now
		}
	}
}

// Passes is the number of passes made so far.
func (s *Sweeper) Passes() uint64 { return s.passes.Load() }

// pass is one sweep: the stuck strategy, then retention.
func (s *Sweeper) pass(ctx context.Context) {
	if s.cfg.Strategy != Off {
		s.stuck(ctx)
	}
	if s.cfg.Retention > 0 {
		s.purge(ctx)
	}
}

func (s *Sweeper) stuck(ctx context.Context) {
	due := s.cfg.Core.CheckDue()
	refused := make(map[string]int64, len(s.refused))
	for i, v := range due {
		if i >= s.cfg.MaxPerSweep || ctx.Err() != nil {
			break
		}
		if at, ok := s.refused[v.ID]; ok && at == v.CheckAt {
			refused[v.ID] = at // still refused: nothing changed since
			continue
		}
		err := s.act(ctx, v.ID)
		switch {
		case err == nil:
			s.log.Info("sweep: stuck chat handled", "chat", v.ID, "strategy", string(s.cfg.Strategy), "check_at", v.CheckAt)
		case errors.Is(err, chatcore.ErrRestoreNotAllowed), errors.Is(err, chatcore.ErrInvalid):
			refused[v.ID] = v.CheckAt
			s.log.Warn("sweep: stuck chat not handled (session-restore-extend-by must be esp or both)", "chat", v.ID, "strategy", string(s.cfg.Strategy), "err", err)
		case errors.Is(err, chatcore.ErrChatEnded), errors.Is(err, chatcore.ErrChatNotFound):
			// Ended or purged since the list was made: nothing to do.
		default:
			s.log.Warn("sweep: stuck chat: will retry", "chat", v.ID, "strategy", string(s.cfg.Strategy), "err", err)
		}
	}
	s.refused = refused
}

func (s *Sweeper) act(ctx context.Context, chatID string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	var err error
	switch s.cfg.Strategy {
	case Restore:
		_, err = s.cfg.Core.Restore(ctx, chatID, chatcore.RestoreByWorkflow)
	case RestoreAndRoute:
		_, err = s.cfg.Core.RestoreAndRoute(ctx, chatID)
	case End:
		_, err = s.cfg.Core.EndChat(ctx, chatID, "")
	}
	return err
}

func (s *Sweeper) purge(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	ids, err := s.cfg.Core.EndedBefore(lctx, s.cfg.Clock.Now().Add(-s.cfg.Retention), s.cfg.MaxPerSweep)
	cancel()
	if err != nil {
		s.log.Warn("sweep: retention: listing ended chats", "err", err)
		return
	}
	n := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		if s.cfg.Export != nil && !s.export(ctx, id) {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
		err := s.cfg.Core.Purge(pctx, id)
		cancel()
		switch {
		case err == nil:
			n++
			s.stats.purged.Add(1)
		case errors.Is(err, chatcore.ErrChatNotFound):
		default:
			s.stats.purgeFailed.Add(1)
			s.log.Warn("sweep: retention: purge failed, retried next pass", "chat", id, "err", err)
		}
	}
	if n > 0 {
		s.log.Info("sweep: retention: ended chats purged", "chats", n, "retention", s.cfg.Retention.String())
	}
}

// export runs the Exporter for a chat about to be purged; false keeps the chat.
func (s *Sweeper) export(ctx context.Context, id string) bool {
	ectx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	err := s.cfg.Export.ExportChat(ectx, id)
	cancel()
	switch {
	case err == nil:
		s.stats.exported.Add(1)
		return true
	case errors.Is(err, chatcore.ErrChatNotFound):
		return false // purged since the list was made
	}
	s.stats.exportFailed.Add(1)
	s.log.Warn("sweep: retention: export failed, chat kept and retried next pass", "chat", id, "err", err)
	return false
}
