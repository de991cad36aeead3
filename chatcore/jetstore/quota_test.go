package jetstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/internal/natsserver"
)

// A store filled to its quotas refuses the next write with ErrQuota, keeps everything it
// had (nothing is discarded to make room), counts the refusal and reports its usage.
func TestStoreQuotas(t *testing.T) {
	ctx := context.Background()
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	s, err := Open(ctx, c, Options{MaxTranscriptBytes: 64 << 10, MaxStateBytes: 16 << 10, MaxFileBytes: 512 << 10, MaxRecordsPerChat: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Per chat: the sixth record of a chat is refused, other chats still write.
	for i := range int64(5) {
		if err := s.AppendJSON(ctx, "capped", i, [][]byte{ev(i+1, "x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendJSON(ctx, "capped", 5, [][]byte{ev(6, "x")}); !errors.Is(err, ErrQuota) {
		t.Fatalf("sixth record: %v, want ErrQuota", err)
	}
	if err := s.AppendJSON(ctx, "other", 0, [][]byte{ev(1, "x")}); err != nil {
		t.Fatalf("another chat: %v", err)
	}
	// In total: 2 KiB events into a 64 KiB stream.
	big := fmt.Sprintf("%q", strings.Repeat("y", 2<<10))
	var full error
	n := int64(0)
	for i := range 100 {
		chat := fmt.Sprintf("fill%d", i)
		if full = s.AppendJSON(ctx, chat, 0, [][]byte{[]byte(big)}); full != nil {
			break
		}
		n++
	}
	if !errors.Is(full, ErrQuota) || n == 0 || n >= 100 {
		t.Fatalf("after %d appends: %v, want ErrQuota", n, full)
	}
	for i := range n {
		if evs, err := pageAll(ctx, s, fmt.Sprintf("fill%d", i), 1); err != nil || len(evs) != 1 {
			t.Fatalf("fill%d after the quota: %d events, %v", i, len(evs), err)
		}
	}
	// One record over the stream's maximum message size: too large, not a quota.
	huge := bytes.Repeat([]byte("z"), MaxRecordBytes+1)
	if err := s.AppendJSON(ctx, "huge", 0, [][]byte{huge}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize record: %v", err)
	}

	// States: 4 KiB documents into a 16 KiB bucket.
	doc := bytes.Repeat([]byte("s"), 4<<10)
	var serr error
	k := 0
	for ; k < 20; k++ {
		if _, serr = s.CreateChat(ctx, fmt.Sprintf("st%d", k), doc); serr != nil {
			break
		}
	}
	if !errors.Is(serr, ErrQuota) || k == 0 || k == 20 {
		t.Fatalf("after %d states: %v", k, serr)
	}
	// Files: 200 KiB files into 512 KiB.
	var ferr error
	f := 0
	for ; f < 10; f++ {
		if _, ferr = s.PutFile(ctx, "files", fmt.Sprintf("f%d", f), FileMeta{Name: "a.txt"}, bytes.NewReader(bytes.Repeat([]byte("f"), 200<<10))); ferr != nil {
			break
		}
	}
	if !errors.Is(ferr, ErrQuota) || f == 0 || f == 10 {
		t.Fatalf("after %d files: %v", f, ferr)
	}

	u, err := s.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.QuotaRefusals != 4 || u.MaxTranscriptBytes != 64<<10 || u.TranscriptBytes == 0 || u.TranscriptBytes > 64<<10 ||
		u.StateBytes == 0 || u.StateBytes > 16<<10 || u.FileBytes == 0 || u.FileBytes > 512<<10 {
		t.Fatalf("usage %+v", u)
	}
}

// A quota the engine cannot reserve is refused at Open with ErrQuota and a message naming
// the stream, not a bare engine error.
func TestOpenRefusesAQuotaOverTheEnginesStorage(t *testing.T) {
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	_, err := Open(context.Background(), c, Options{MaxTranscriptBytes: 1 << 60})
	if !errors.Is(err, ErrQuota) || !strings.Contains(err.Error(), EventsStream) {
		t.Fatalf("Open with a 1 EiB quota: %v", err)
	}
}

// Quotas apply to a stream and buckets created without them (an upgrade), can be changed
// at the next start, and turned off again.
func TestQuotasAppliedToExistingStreams(t *testing.T) {
	ctx := context.Background()
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	s := openStore(t, c)
	for i := range int64(3) {
		if err := s.AppendJSON(ctx, "old", i, [][]byte{ev(i+1, "x")}); err != nil {
			t.Fatal(err)
		}
	}
	capped, err := Open(ctx, c, Options{MaxRecordsPerChat: 3, MaxTranscriptBytes: 1 << 20, MaxStateBytes: 1 << 20, MaxFileBytes: 1 << 20})
	if err != nil {
		t.Fatalf("adding quotas to existing streams: %v", err)
	}
	if err := capped.AppendJSON(ctx, "old", 3, [][]byte{ev(4, "x")}); !errors.Is(err, ErrQuota) {
		t.Fatalf("fourth record under a cap of 3: %v", err)
	}
	if _, err := Open(ctx, c, Options{MaxRecordsPerChat: 10}); err != nil {
		t.Fatalf("raising the cap: %v", err)
	}
	free := openStore(t, c)
	if err := free.AppendJSON(ctx, "old", 3, [][]byte{ev(4, "x")}); err != nil {
		t.Fatalf("after removing the quotas: %v", err)
	}
}
