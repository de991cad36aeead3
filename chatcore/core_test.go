package chatcore

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCreateSendRead(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil)
	cr, err := tc.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "Ann", Subject: "hi", UserData: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.ChatID) != 16 || len(cr.UserID) != 16 || len(cr.SecureKey) != 32 || cr.Alias != "node-1" {
		t.Fatalf("ids: %+v", cr)
	}
	if len(cr.Events) != 1 || cr.Events[0].Index != 1 || cr.Events[0].Type != EventParticipantJoined || cr.Events[0].From.ParticipantID != 1 || cr.Events[0].From.Type != Client {
		t.Fatalf("create events: %+v", cr.Events)
	}
	res, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "hello", "text")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 || res.Events[0].Index != 2 || res.Events[0].MessageType != "text" || res.Chat.NextPosition() != 3 {
		t.Fatalf("send: %+v", res)
	}
	ag, _, err := tc.Join(ctx, cr.ChatID, JoinRequest{Type: Agent, Nickname: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	if ag.ParticipantID != 2 {
		t.Fatalf("agent pid %d", ag.ParticipantID)
	}
	if _, err := tc.SendMessage(ctx, cr.ChatID, ag.UserID, "hi Ann", ""); err != nil {
		t.Fatal(err)
	}
	evs, err := tc.Events(ctx, cr.ChatID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Index != 2 || evs[2].Text != "hi Ann" || evs[2].From.Type != Agent {
		t.Fatalf("events from 2: %+v", evs)
	}
	if evs, _ := tc.Events(ctx, cr.ChatID, 0); len(evs) != 0 {
		t.Fatal("position 0 returns events")
	}
	tc.rec.waitFor(t, "4 events", func() bool { return len(tc.rec.eventsOf(cr.ChatID)) == 4 })
	for i, ev := range tc.rec.eventsOf(cr.ChatID) {
		if ev.Index != int64(i+1) {
			t.Fatalf("listener order: %d at %d", ev.Index, i)
		}
	}
	// Authentication.
	if v, err := tc.Authenticate("", cr.SecureKey, "", ""); err != nil || v.ID != cr.ChatID {
		t.Fatalf("auth by key: %v %v", v.ID, err)
	}
	if _, err := tc.Authenticate(cr.ChatID, cr.SecureKey, cr.UserID, "node-1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][4]string{{cr.ChatID, "x" + cr.SecureKey[1:], "", ""}, {cr.ChatID, cr.SecureKey, "nope", ""}, {cr.ChatID, cr.SecureKey, "", "node-2"}, {"", "nope", "", ""}} {
		if _, err := tc.Authenticate(c[0], c[1], c[2], c[3]); !errors.Is(err, ErrBadSecureKey) {
			t.Fatalf("auth %v: %v", c, err)
		}
	}
	if _, err := tc.Authenticate("unknown", cr.SecureKey, "", ""); !errors.Is(err, ErrChatNotFound) {
		t.Fatal(err)
	}
	// File round trip.
	up, err := tc.UploadFile(ctx, cr.ChatID, cr.UserID, Upload{Name: "a.txt", ContentType: "text/plain", Data: []byte("body")})
	if err != nil {
		t.Fatal(err)
	}
	meta, rc, err := tc.DownloadFile(ctx, cr.ChatID, ag.UserID, up.UserData[KeyFileID])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "body" || meta.Name != "a.txt" {
		t.Fatalf("download %q %+v", b, meta)
	}
	// Disconnect ends the chat.
	res, err = tc.Disconnect(ctx, cr.ChatID, cr.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Chat.Ended || len(res.Events) != 2 || res.Events[0].UserData[KeyQuitReason] != "0" || res.Events[1].UserData[KeyQuitReason] != "5" {
		t.Fatalf("disconnect: %+v", res)
	}
	if _, err := tc.SendMessage(ctx, cr.ChatID, ag.UserID, "late", ""); !errors.Is(err, ErrChatEnded) {
		t.Fatal(err)
	}
	if !strings.Contains(tc.rec.eventsOf(cr.ChatID)[0].From.Nickname, "Ann") {
		t.Fatal("nickname")
	}
}
