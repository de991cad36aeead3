package chatcore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

// bigUserData is userData just under the default 64 KiB per-chat total.
func bigUserData(i int) map[string]string {
	ud := map[string]string{}
	for k := range 4 {
		ud[fmt.Sprintf("k%d", k)] = strings.Repeat(string(rune('a'+k)), 15<<10) + fmt.Sprint(i)
	}
	return ud
}

// The attack of issue 7 item 5: many chats with large userData, then ended. Ended chats
// leave the Core's memory once their end is stored and delivered (Stats.ChatsInMemory
// returns to the live ones), are still readable and authenticate on demand (by id and by
// key alone), refuse operations as ended, are not loaded into memory after a restart, and a
// purge removes them with their key.
func TestEndedChatsLeaveMemory(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	tc := newCore(t, eng, nil, asyncOpts(), nil)
	const total, live = 120, 5
	crs := make([]Created, total)
	for i := range crs {
		crs[i] = mustCreate(t, tc, bigUserData(i))
	}
	if n := tc.Stats().ChatsInMemory; n != total {
		t.Fatalf("%d chats in memory after creating %d", n, total)
	}
	for i, cr := range crs[live:] {
		var err error
		switch i % 3 { // every way a chat ends
		case 0:
			_, err = tc.Disconnect(ctx, cr.ChatID, cr.UserID)
		case 1:
			_, err = tc.EndChat(ctx, cr.ChatID, "")
		case 2:
			_, err = tc.Leave(ctx, cr.ChatID, cr.UserID, QuitRemovedByServer)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// One more ends by its timer: async-idle-alert then -close on the manual clock.
	timed := mustCreate(t, tc, asyncUD())
	tc.advance(t, 100*time.Second)
	tc.advance(t, 50*time.Second)
	if v, err := tc.Chat(timed.ChatID); err != nil || !v.Ended {
		t.Fatalf("idle-closed chat: %+v, %v", v, err)
	}
	if n := tc.Stats().ChatsInMemory; n != live {
		t.Fatalf("%d chats in memory, want the %d live ones", n, live)
	}
	if ids := tc.ChatIDs(); len(ids) != live {
		t.Fatalf("ChatIDs lists %d", len(ids))
	}
	// Every listener saw every end.
	for _, cr := range crs[live:] {
		tc.rec.waitFor(t, "end delivered", func() bool {
			e, ok := tc.rec.lastEvent(cr.ChatID)
			return ok && e.Type == EventParticipantLeft
		})
	}
	checkEnded := func(tc *testCore, cr Created) {
		t.Helper()
		v, err := tc.Chat(cr.ChatID)
		if err != nil || !v.Ended || !maps.Equal(v.UserData, bigUserDataOf(crs, cr)) {
			t.Fatalf("ended chat read on demand: ended %v, %v", v.Ended, err)
		}
		if v, err := tc.Authenticate("", cr.SecureKey, "", ""); err != nil || v.ID != cr.ChatID || !v.Ended {
			t.Fatalf("authenticate by key alone: %+v, %v", v.ID, err)
		}
		if _, err := tc.Authenticate(cr.ChatID, cr.SecureKey+"x", "", ""); !errors.Is(err, ErrBadSecureKey) {
			t.Fatalf("wrong key on an ended chat: %v", err)
		}
		if evs, err := tc.Events(ctx, cr.ChatID, 1); err != nil || len(evs) != 2 {
			t.Fatalf("transcript of an ended chat: %d events, %v", len(evs), err)
		}
		if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "late", ""); !errors.Is(err, ErrChatEnded) {
			t.Fatalf("send to an ended chat: %v", err)
		}
	}
	for _, cr := range crs[live:][:10] {
		checkEnded(tc, cr)
	}
	if n := tc.Stats().ChatsInMemory; n != live {
		t.Fatalf("reads brought ended chats back into memory: %d", n)
	}

	// After a restart the ended chats are not loaded; the live ones are.
	tc.Close()
	tc2 := newCore(t, eng, nil, asyncOpts(), nil)
	<-tc2.warmed
	if n := tc2.Stats().ChatsInMemory; n != live {
		t.Fatalf("%d chats in memory after restart, want %d", n, live)
	}
	for _, cr := range crs[live:][:5] {
		checkEnded(tc2, cr)
	}
	for _, cr := range crs[:live] {
		if _, err := tc2.SendMessage(ctx, cr.ChatID, cr.UserID, "still here", ""); err != nil {
			t.Fatalf("live chat after restart: %v", err)
		}
	}
	// Purge: gone from the store, its key no longer leads anywhere.
	gone := crs[live]
	if err := tc2.Purge(ctx, gone.ChatID); err != nil {
		t.Fatal(err)
	}
	if _, err := tc2.Chat(gone.ChatID); !errors.Is(err, ErrChatNotFound) {
		t.Fatalf("purged chat: %v", err)
	}
	if _, err := tc2.Authenticate("", gone.SecureKey, "", ""); !errors.Is(err, ErrBadSecureKey) {
		t.Fatalf("purged chat's key: %v", err)
	}
}

func bigUserDataOf(crs []Created, cr Created) map[string]string {
	for i, c := range crs {
		if c.ChatID == cr.ChatID {
			return bigUserData(i)
		}
	}
	return nil
}

// userData limits per chat (total bytes, keys, value size): a refusal changes nothing, in
// memory or in the store, and is counted.
func TestUserDataLimitsRefuseWithoutEffect(t *testing.T) {
	ctx := context.Background()
	tc := newCoreWith(t, nil, nil, nil, nil, func(c *Config) {
		c.Limits = Limits{MaxUserDataBytes: 1000, MaxUserDataKeys: 4, MaxUserDataVal: 300}
	})
	cr := mustCreate(t, tc, map[string]string{"a": strings.Repeat("x", 290)})
	stored := func() []byte {
		raw, _, err := tc.eng.store.LoadChat(ctx, cr.ChatID)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	before, beforeRaw := tc.mustView(t, cr.ChatID), stored()
	for name, ud := range map[string]map[string]string{
		"value over 300 bytes": {"b": strings.Repeat("y", 301)},
		"fifth key":            {"b": "1", "c": "2", "d": "3", "e": "4"},
		"over 1000 in total":   {"b": strings.Repeat("y", 300), "c": strings.Repeat("y", 300), "d": strings.Repeat("y", 120)},
	} {
		if _, err := tc.UpdateUserData(ctx, cr.ChatID, cr.UserID, ud); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: %v", name, err)
		}
		if after := tc.mustView(t, cr.ChatID); !maps.Equal(after.UserData, before.UserData) {
			t.Fatalf("%s changed userData: %v", name, after.UserData)
		}
		if !bytes.Equal(stored(), beforeRaw) {
			t.Fatalf("%s changed the stored state", name)
		}
	}
	if _, err := tc.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "B", UserData: map[string]string{"v": strings.Repeat("z", 301)}}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("create with an oversize value: %v", err)
	}
	if n := tc.Stats().UserDataRefused; n != 4 {
		t.Fatalf("%d userData refusals counted, want 4", n)
	}
	// Replacing a value counts its new size only: still fits.
	if _, err := tc.UpdateUserData(ctx, cr.ChatID, cr.UserID, map[string]string{"a": "short", "b": strings.Repeat("y", 300)}); err != nil {
		t.Fatalf("a fitting update: %v", err)
	}
}

func (tc *testCore) mustView(t *testing.T, id string) ChatView {
	t.Helper()
	v, err := tc.Chat(id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Issue 7 item 11: the state document holds the SHA-256 of the secureKey, never the key; a
// chat stored by an older version with the key in clear still authenticates (by id and by
// key alone) and is rewritten hashed on its next save, and an ended one when it is released
// after the restart.
func TestSecureKeyStoredHashedAndMigrated(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	tc := newCore(t, eng, nil, nil, nil)
	cr := mustCreate(t, tc, nil)
	if len(cr.SecureKey) != 32 {
		t.Fatalf("secureKey %q at creation", cr.SecureKey)
	}
	ended := mustCreate(t, tc, nil)
	if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "hi", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Disconnect(ctx, ended.ChatID, ended.UserID); err != nil {
		t.Fatal(err)
	}
	doc := func(id string) (map[string]any, []byte, uint64) {
		raw, rev, err := eng.store.LoadChat(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m, raw, rev
	}
	tc.mu.RLock()
	lc := tc.chats[cr.ChatID]
	tc.mu.RUnlock()
	lc.mu.Lock()
	liveBytes := lc.st.TranscriptBytes
	lc.mu.Unlock()
	for _, c := range []Created{cr, ended} {
		m, raw, _ := doc(c.ChatID)
		if bytes.Contains(raw, []byte(c.SecureKey)) || m["secureKey"] != nil || m["keyHash"] != keyHash(c.SecureKey) {
			t.Fatalf("stored state of %s: %s", c.ChatID, raw)
		}
	}
	tc.Close()

	// Rewrite both documents the way the previous version stored them: the key in clear.
	for _, c := range []Created{cr, ended} {
		m, _, rev := doc(c.ChatID)
		delete(m, "keyHash")
		delete(m, "keyIndexed")
		delete(m, "transcriptBytes")
		m["v"] = 1
		m["secureKey"] = c.SecureKey
		raw, _ := json.Marshal(m)
		if _, err := eng.store.SaveChat(ctx, c.ChatID, raw, rev); err != nil {
			t.Fatal(err)
		}
		if err := eng.store.DeleteKey(ctx, keyHash(c.SecureKey)); err != nil {
			t.Fatal(err)
		}
	}
	tc2 := newCore(t, eng, nil, nil, nil)
	<-tc2.warmed
	// The version-1 document's transcript bytes were recounted from the transcript.
	tc2.mu.RLock()
	live := tc2.chats[cr.ChatID]
	tc2.mu.RUnlock()
	live.mu.Lock()
	recounted := live.st.TranscriptBytes
	live.mu.Unlock()
	if recounted != liveBytes {
		t.Fatalf("recounted %d transcript bytes, the chat had %d", recounted, liveBytes)
	}
	for _, c := range []Created{cr, ended} {
		if _, err := tc2.Authenticate(c.ChatID, c.SecureKey, c.UserID, ""); err != nil {
			t.Fatalf("legacy chat %s by id: %v", c.ChatID, err)
		}
		if v, err := tc2.Authenticate("", c.SecureKey, "", ""); err != nil || v.ID != c.ChatID {
			t.Fatalf("legacy chat %s by key alone: %v", c.ChatID, err)
		}
		if _, err := tc2.Authenticate(c.ChatID, strings.ToUpper(c.SecureKey), "", ""); !errors.Is(err, ErrBadSecureKey) {
			t.Fatalf("legacy chat %s with a wrong key: %v", c.ChatID, err)
		}
	}
	// The ended one was released after the warm-up: its document is hashed already.
	if m, raw, _ := doc(ended.ChatID); bytes.Contains(raw, []byte(ended.SecureKey)) || m["keyHash"] != keyHash(ended.SecureKey) {
		t.Fatalf("released legacy chat still stored as %s", raw)
	}
	if n := tc2.Stats().ChatsInMemory; n != 1 {
		t.Fatalf("%d chats in memory, want the live one", n)
	}
	// The live one on its next save (a state change).
	if _, err := tc2.UpdateUserData(ctx, cr.ChatID, cr.UserID, map[string]string{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	if m, raw, _ := doc(cr.ChatID); bytes.Contains(raw, []byte(cr.SecureKey)) || m["keyHash"] != keyHash(cr.SecureKey) {
		t.Fatalf("legacy chat after a save: %s", raw)
	}
}
