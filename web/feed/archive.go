package feed

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/chatgate/chatgate/chatcore"
)

// ArchiveChats is what an Archive reads of the chat core; *chatcore.Core implements it.
type ArchiveChats interface {
	Chat(chatID string) (chatcore.ChatView, error)
	EventsPage(ctx context.Context, chatID string, from int64, maxEvents, maxBytes int) (chatcore.Page, error)
}

// ArchiveConfig configures an Archive.
type ArchiveConfig struct {
	// Dir receives one file per chat (required; created if missing).
	Dir    string
	Chats  ArchiveChats // required
	Logger *slog.Logger
}

// Archive writes an ended chat's transcript to a directory before retention purges it
// (retention-export-dir): <Dir>/<chatId>.ndjson, one record of schema v1 per line — each
// transcript event as a KindEvent record, then one KindProperties record with the chat's
// last properties — and the export's trailer line
// {"v":1,"kind":"end","records":n,"truncated":false,"nextSeq":0}. The file is written
// under a temporary name, fsynced, renamed into place and its directory fsynced, so when
// ExportChat returns nil the file survives a crash, and a file with its final name is
// complete. It implements chatcore/sweep's Exporter.
type Archive struct {
	dir   string
	chats ArchiveChats
	log   *slog.Logger
}

// NewArchive checks the directory (creating it, mode 0750) and returns the archive.
func NewArchive(cfg ArchiveConfig) (*Archive, error) {
	if cfg.Dir == "" || cfg.Chats == nil {
		return nil, fmt.Errorf("%w: archive needs Dir and Chats", ErrConfig)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("retention export directory: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Archive{dir: cfg.Dir, chats: cfg.Chats, log: log}, nil
}

// Path is the file a chat is exported to. The chat id is made one safe file name the way
// it is made one subject token (letters, digits, - and _ as they are; anything else
// hex-encoded behind x_).
func (a *Archive) Path(chatID string) string {
	return filepath.Join(a.dir, subjectToken(chatID)+".ndjson")
}

// ExportChat writes the chat's file (replacing an earlier export of it).
func (a *Archive) ExportChat(ctx context.Context, chatID string) (err error) {
	v, err := a.chats.Chat(chatID)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(a.dir, "."+subjectToken(chatID)+".*.tmp")
	if err != nil {
		return fmt.Errorf("export %s: %w", chatID, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				a.log.Warn("feed: removing a failed export", "file", f.Name(), "err", rerr)
			}
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	enc := json.NewEncoder(w)
	n := 0
	for from := int64(1); ; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("export %s: %w", chatID, err)
		}
		page, err := a.chats.EventsPage(ctx, chatID, from, 0, 0)
		if err != nil {
			return fmt.Errorf("export %s: %w", chatID, err)
		}
		for _, ev := range page.Events {
			if err := enc.Encode(eventRecord(v, ev)); err != nil {
				return fmt.Errorf("export %s: %w", chatID, err)
			}
			n++
		}
		if !page.More || len(page.Events) == 0 {
			break
		}
		from = page.Next
	}
	at := v.EndedAt
	if at.IsZero() {
		at = v.Created
	}
	if err := enc.Encode(propsRecord(v, v.Properties(), at)); err != nil {
		return fmt.Errorf("export %s: %w", chatID, err)
	}
	n++
	if err := enc.Encode(exportEnd{V: SchemaVersion, Kind: KindEnd, Records: n}); err != nil {
		return fmt.Errorf("export %s: %w", chatID, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("export %s: %w", chatID, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("export %s: fsync: %w", chatID, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export %s: %w", chatID, err)
	}
	if err := os.Rename(f.Name(), a.Path(chatID)); err != nil {
		return fmt.Errorf("export %s: %w", chatID, err)
	}
	// The rename is durable only once the directory is.
	d, err := os.Open(a.dir)
	if err != nil {
		return fmt.Errorf("export %s: %w", chatID, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("export %s: fsync directory: %w", chatID, err)
	}
	return nil
}
