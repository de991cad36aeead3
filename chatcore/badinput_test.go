package chatcore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// snapshot is what a rejected operation must leave unchanged.
type snapshot struct {
	view      ChatView
	storeLast int64
	listened  int
	state     chatState
}

func (tc *testCore) snap(t *testing.T, id string) snapshot {
	t.Helper()
	v, err := tc.Chat(id)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tc.eng.store.LastIndex(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tc.get(id)
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	tc.settle(t)
	return snapshot{view: v, storeLast: n, listened: len(tc.rec.eventsOf(id)), state: st}
}

func TestBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	ob := &optBox{o: DefaultOptions()}
	ob.set(func(o *Options) {
		o.FileTransfer.UploadMaxFiles = 2
		o.FileTransfer.UploadMaxFileSize = 10
		o.FileTransfer.UploadMaxTotalSize = 15
		o.FileTransfer.DownloadAttempts = 1
	})
	tc := newCore(t, nil, nil, ob, nil)
	cr := mustCreate(t, tc, nil)
	id, me := cr.ChatID, cr.UserID
	ag, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := tc.UploadFile(ctx, id, me, Upload{Name: "a.txt", Data: []byte("0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	agFile, err := tc.UploadFile(ctx, id, ag.UserID, Upload{Name: "big.exe", Data: make([]byte, 100)}) // agents are not limited
	if err != nil {
		t.Fatal(err)
	}
	// A screened upload (the agent API's) obeys the type and size rules, not the quotas.
	if _, err := tc.UploadFile(ctx, id, ag.UserID, Upload{Name: "big.exe", Data: []byte("1"), Screen: true}); !errors.Is(err, ErrFileType) {
		t.Fatalf("screened .exe: %v", err)
	}
	if _, err := tc.UploadFile(ctx, id, ag.UserID, Upload{Name: "big.txt", Data: make([]byte, 11), Screen: true}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("screened oversize: %v", err)
	}
	for range 3 { // beyond upload-max-files (2): the customer's quota is not the agent's
		if _, err := tc.UploadFile(ctx, id, ag.UserID, Upload{Name: "ok.txt", Data: make([]byte, 10), Screen: true}); err != nil {
			t.Fatalf("screened upload within the rules: %v", err)
		}
	}
	_, rc, err := tc.DownloadFile(ctx, id, me, up.UserData[KeyFileID])
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	big := strings.Repeat("x", 16<<10+1)

	cases := []struct {
		name string
		want error
		op   func() error
	}{
		{"unknown chat", ErrChatNotFound, func() error { _, err := tc.SendMessage(ctx, "nochat", me, "hi", ""); return err }},
		{"malformed chat id", ErrChatNotFound, func() error { _, err := tc.SendMessage(ctx, "a.b.>", me, "hi", ""); return err }},
		{"wrong secureKey", ErrBadSecureKey, func() error { _, err := tc.Authenticate(id, strings.Repeat("0", 32), "", ""); return err }},
		{"no secureKey", ErrBadSecureKey, func() error { _, err := tc.Authenticate(id, "", "", ""); return err }},
		{"unknown secureKey", ErrBadSecureKey, func() error { _, err := tc.Authenticate("", "abc", "", ""); return err }},
		{"not a participant", ErrNotParticipant, func() error { _, err := tc.SendMessage(ctx, id, "stranger", "hi", ""); return err }},
		{"empty message", ErrInvalid, func() error { _, err := tc.SendMessage(ctx, id, me, "", ""); return err }},
		{"oversize message", ErrTooLarge, func() error { _, err := tc.SendMessage(ctx, id, me, big, ""); return err }},
		{"oversize notice", ErrTooLarge, func() error { _, err := tc.CustomNotice(ctx, id, me, big); return err }},
		{"empty push url", ErrInvalid, func() error { _, err := tc.PushURL(ctx, id, me, ""); return err }},
		{"empty nickname", ErrInvalid, func() error { _, err := tc.UpdateNickname(ctx, id, me, "  "); return err }},
		{"oversize nickname", ErrTooLarge, func() error { _, err := tc.UpdateNickname(ctx, id, me, strings.Repeat("n", 257)); return err }},
		{"no userData", ErrInvalid, func() error { _, err := tc.UpdateUserData(ctx, id, me, nil); return err }},
		{"oversize userData", ErrTooLarge, func() error {
			_, err := tc.UpdateUserData(ctx, id, me, map[string]string{"k": big})
			return err
		}},
		{"userData over total bytes", ErrTooLarge, func() error {
			ud := map[string]string{}
			for i := range 5 {
				ud[strings.Repeat("k", i+1)] = strings.Repeat("v", 15<<10)
			}
			_, err := tc.UpdateUserData(ctx, id, me, ud)
			return err
		}},
		{"bad join type", ErrInvalid, func() error { _, _, err := tc.Join(ctx, id, JoinRequest{Type: Client, Nickname: "x"}); return err }},
		{"join twice", ErrInvalid, func() error {
			_, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "x", UserID: ag.UserID})
			return err
		}},
		{"hold non-async", ErrInvalid, func() error { _, err := tc.Hold(ctx, id, ag.UserID); return err }},
		{"forbidden file type", ErrFileType, func() error {
			_, err := tc.UploadFile(ctx, id, me, Upload{Name: "x.exe", Data: []byte("1")})
			return err
		}},
		{"file too large", ErrTooLarge, func() error {
			_, err := tc.UploadFile(ctx, id, me, Upload{Name: "x.txt", Data: make([]byte, 11)})
			return err
		}},
		{"over total size", ErrFileLimit, func() error {
			_, err := tc.UploadFile(ctx, id, me, Upload{Name: "x.txt", Data: make([]byte, 6)})
			return err
		}},
		{"over download attempts", ErrFileLimit, func() error {
			_, _, err := tc.DownloadFile(ctx, id, me, up.UserData[KeyFileID])
			return err
		}},
		{"unknown file", ErrFileNotFound, func() error { _, _, err := tc.DownloadFile(ctx, id, ag.UserID, "nofile"); return err }},
		{"delete another's file", ErrFileNotFound, func() error {
			_, err := tc.DeleteFile(ctx, id, me, agFile.UserData[KeyFileID])
			return err
		}},
		{"bad file name", ErrInvalid, func() error { _, err := tc.UploadFile(ctx, id, me, Upload{Name: "", Data: []byte("1")}); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := tc.snap(t, id)
			err := c.op()
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			after := tc.snap(t, id)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\n%+v\n%+v", before, after)
			}
		})
	}
	// Upload count limit: one more fits (5 bytes), the next is over upload-max-files.
	if _, err := tc.UploadFile(ctx, id, me, Upload{Name: "b.txt", Data: []byte("12345")}); err != nil {
		t.Fatal(err)
	}
	before := tc.snap(t, id)
	if _, err := tc.UploadFile(ctx, id, me, Upload{Name: "c.txt", Data: nil}); !errors.Is(err, ErrFileLimit) {
		t.Fatalf("over upload-max-files: %v", err)
	}
	if after := tc.snap(t, id); !reflect.DeepEqual(before, after) {
		t.Fatal("state changed")
	}
	// delete-file gives the slot back.
	if _, err := tc.DeleteFile(ctx, id, me, up.UserData[KeyFileID]); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.UploadFile(ctx, id, me, Upload{Name: "c.txt", Data: []byte("1")}); err != nil {
		t.Fatalf("after delete: %v", err)
	}
	lim, err := tc.FileLimits(ctx, id, me)
	if err != nil || lim.UsedUploadMaxFiles != 2 || lim.UsedUploadMaxTotal != 6 || lim.UsedDownloadAttempts != 1 {
		t.Fatalf("limits %+v %v", lim, err)
	}
	if ud := lim.UserData(); ud["upload-max-files"] != "2" || ud["used-upload-max-total-size"] != "6" || ud["upload-file-types"] != DefaultFileTypes {
		t.Fatalf("limits userData %v", ud)
	}

	// Ended chat: every operation refuses, nothing changes.
	if _, err := tc.EndChat(ctx, id, ag.UserID); err != nil {
		t.Fatal(err)
	}
	ended := []func() error{
		func() error { _, err := tc.SendMessage(ctx, id, me, "hi", ""); return err },
		func() error { _, err := tc.StartTyping(ctx, id, me, ""); return err },
		func() error { _, err := tc.UpdateUserData(ctx, id, me, map[string]string{"a": "b"}); return err },
		func() error { _, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "x"}); return err },
		func() error { _, err := tc.EndChat(ctx, id, ""); return err },
		func() error { return tc.Touch(id, me) },
		func() error { _, err := tc.UploadFile(ctx, id, me, Upload{Name: "a.txt"}); return err },
	}
	for i, op := range ended {
		before := tc.snap(t, id)
		if err := op(); !errors.Is(err, ErrChatEnded) {
			t.Fatalf("ended op %d: %v", i, err)
		}
		if after := tc.snap(t, id); !reflect.DeepEqual(before, after) {
			t.Fatalf("ended op %d changed state", i)
		}
	}
	// Ended chats still authenticate (the caller answers chatEnded) and can be read.
	if v, err := tc.Authenticate(id, cr.SecureKey, "", ""); err != nil || !v.Ended {
		t.Fatalf("auth ended: %v", err)
	}
	if evs, err := tc.Events(ctx, id, 1); err != nil || len(evs) == 0 {
		t.Fatal(err)
	}
}

func TestCreateRejects(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil)
	for _, c := range []struct {
		r    CreateRequest
		want error
	}{
		{CreateRequest{Service: "svc"}, ErrInvalid},
		{CreateRequest{Nickname: "a"}, ErrInvalid},
		{CreateRequest{Service: "svc", Nickname: strings.Repeat("a", 300)}, ErrTooLarge},
		{CreateRequest{Service: "svc", Nickname: "a", UserData: map[string]string{"": "x"}}, ErrInvalid},
	} {
		if _, err := tc.CreateChat(ctx, c.r); !errors.Is(err, c.want) {
			t.Fatalf("%+v: %v", c.r, err)
		}
	}
	if n := len(tc.ChatIDs()); n != 0 {
		t.Fatalf("%d chats after rejected creations", n)
	}
	n := 0
	if err := tc.eng.store.EachChat(ctx, func(string, []byte, uint64) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("stored chats %d %v", n, err)
	}
}
