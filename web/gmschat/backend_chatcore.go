package gmschat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// CoreBackend is the Backend over the chat core: it authenticates the customer, maps each Op
// to its chatcore call, chatcore events to wire Events and chatcore errors to APIErrors.
//
// Core may be set after the adapter is built (the core needs the adapter's presence for its
// liveness checks), but before the first request is served.
type CoreBackend struct {
	Core *chatcore.Core
}

var _ Backend = (*CoreBackend)(nil)

// CreateChat runs Request Chat. The answer carries the creation's events (the customer's
// ParticipantJoined) and the secureKey, which only this answer ever contains.
func (b *CoreBackend) CreateChat(ctx context.Context, op Op) (Response, error) {
	c, err := b.Core.CreateChat(ctx, chatcore.CreateRequest{
		Service: op.Service, Nickname: op.Nickname, Subject: op.Subject, Email: op.Email, UserData: op.UserData,
	})
	if err != nil {
		return Response{}, apiError(err)
	}
	resp := OK(c.ChatID, c.UserID, c.Alias, c.Chat.Ended, c.Chat.LastIndex+1, WireEvents(c.Events))
	resp.SecureKey = c.SecureKey
	return resp, nil
}

// Do runs every other customer operation: authenticate (the chat is found from the secureKey
// when op.ChatID is empty), run the operation as the chat's customer, then read the events
// from op.Position. An operation on an ended chat, or by a customer who already left, answers
// Ended and changes nothing; reading (refresh, requestNotifications) still returns the
// transcript with chatEnded true, so a customer coming back learns how the chat ended.
//
// Once the credentials are verified, the answer — success, Ended or failure — carries them
// (§9.4): on an error the returned Response holds only the credentials, for the error body.
func (b *CoreBackend) Do(ctx context.Context, op Op) (Response, error) {
	view, err := b.authenticate(op)
	if err != nil {
		return Response{}, err
	}
	resp, err := b.do(ctx, op, view)
	if err != nil {
		resp = Response{}
	}
	// The alias is the one of the answer's chat view: the node serving it now.
	own := Credentials{ChatID: view.ID, UserID: view.Customer, SecureKey: op.SecureKey, Alias: view.Alias}
	if resp.Alias != "" {
		own.Alias = resp.Alias
	}
	return resp.WithCredentials(own), err
}

func (b *CoreBackend) do(ctx context.Context, op Op, view chatcore.ChatView) (Response, error) {
	var err error
	chatID, user := view.ID, view.Customer
	reading := op.Kind == OpRefresh || op.Kind == OpRequestNotifications
	if (view.Ended || !view.CustomerPresent) && !reading {
		return Ended(chatID), nil
	}
	var res chatcore.Result
	switch op.Kind {
	case OpRefresh, OpRequestNotifications:
		if !view.Ended && view.CustomerPresent {
			if err := b.Core.Touch(chatID, user); err != nil && !ended(err) {
				return Response{}, apiError(err)
			}
		}
	case OpSendMessage:
		res, err = b.Core.SendMessage(ctx, chatID, user, op.Text, op.MessageType)
	case OpStartTyping:
		res, err = b.Core.StartTyping(ctx, chatID, user, op.Text)
	case OpStopTyping:
		res, err = b.Core.StopTyping(ctx, chatID, user, op.Text)
	case OpPushURL:
		res, err = b.Core.PushURL(ctx, chatID, user, op.Text)
	case OpUpdateNickname:
		res, err = b.Core.UpdateNickname(ctx, chatID, user, op.Nickname)
	case OpUpdateData:
		res, err = b.Core.UpdateUserData(ctx, chatID, user, op.UserData)
	case OpCustomNotice:
		res, err = b.Core.CustomNotice(ctx, chatID, user, op.Text)
	case OpDisconnect:
		res, err = b.Core.Disconnect(ctx, chatID, user)
	case OpFileLimits:
		return b.fileLimits(ctx, op, view)
	case OpFileUpload:
		return b.upload(ctx, op, view)
	case OpFileDelete:
		res, err = b.Core.DeleteFile(ctx, chatID, user, op.FileID)
	default:
		return Response{}, Errorf(CodeUnknownOperation, "unknown operation")
	}
	if err != nil {
		if ended(err) {
			return Ended(chatID), nil
		}
		return Response{}, apiError(err)
	}
	if res.Chat.ID != "" {
		view = res.Chat
	}
	resp, err := b.answer(ctx, view, op.Position)
	if err != nil {
		return Response{}, err
	}
	if op.Kind == OpDisconnect {
		resp.ChatEnded = true // for the customer the chat is over, whoever else stays
	}
	return resp, nil
}

// authenticate checks the customer's credentials and that the chat belongs to the service
// the request names (REST path, CometD channel): a chat of another service is answered like
// an unknown chat, so a key cannot be used to act on a chat through a service it is not in
// (issue 7 item 9).
func (b *CoreBackend) authenticate(op Op) (chatcore.ChatView, error) {
	// alias is informational only (§9.4 as corrected): it names the node that served the
	// last answer and changes with a new container or host name, so it never fails a
	// request; the answer carries the current one.
	view, err := b.Core.Authenticate(op.ChatID, op.SecureKey, op.UserID, "")
	if err != nil {
		return chatcore.ChatView{}, apiError(err)
	}
	if op.Service != "" && view.Service != op.Service {
		return chatcore.ChatView{}, apiError(fmt.Errorf("chat of service %q asked through %q: %w", view.Service, op.Service, chatcore.ErrChatNotFound))
	}
	return view, nil
}

// answer builds the success response with the events from position (PositionNone: none;
// -N: the last N):
// one bounded page of the transcript (chatcore's page limits); when more events follow,
// nextPosition points at the first one not sent, so the client's next refresh continues
// there.
func (b *CoreBackend) answer(ctx context.Context, view chatcore.ChatView, position int64) (Response, error) {
	if position < 0 {
		return b.tail(ctx, view, -position)
	}
	next := view.LastIndex + 1
	var msgs []Event
	more := false
	if position != PositionNone {
		page, err := b.Core.EventsPage(ctx, view.ID, position, 0, 0)
		if err != nil {
			return Response{}, apiError(err)
		}
		// The customer never sees coaching (INT) or monitoring (VIP) events.
		msgs = WireEvents(chatcore.VisibleEvents(page.Events, chatcore.Client))
		if page.More || page.Next > next {
			next = page.Next
		}
		more = page.More
	}
	resp := OK(view.ID, view.Customer, view.Alias, view.Ended, next, msgs)
	resp.More = more
	return resp, nil
}

// tailRounds bounds how often tail steps back over events the customer may not see.
const tailRounds = 4

// tail answers transcriptPosition -n: the customer's last n visible events (-1 = the last
// one; the async Genesys widget restores with it, then pages back with positive positions).
// It reads the last n events and, while internal (INT/VIP) events hid some, steps back over
// twice as many each time, at most tailRounds reads (15 events for n = 1). When the page bound cuts the first read (n above
// a page), it answers that page from last-n+1 like a positive position, with nextPosition
// where it stopped.
func (b *CoreBackend) tail(ctx context.Context, view chatcore.ChatView, n int64) (Response, error) {
	last := view.LastIndex
	var out []chatcore.Event
	window := n
	for hi, round := last, 0; round < tailRounds && int64(len(out)) < n && hi >= 1; round++ {
		if round > 0 {
			window = max(n-int64(len(out)), 2*window) // step back faster over long hidden runs
		}
		lo := max(1, hi-window+1)
		page, err := b.Core.EventsPage(ctx, view.ID, lo, int(hi-lo+1), 0)
		if err != nil {
			return Response{}, apiError(err)
		}
		evs := page.Events
		for len(evs) > 0 && evs[len(evs)-1].Index > hi {
			evs = evs[:len(evs)-1]
		}
		if len(evs) == 0 {
			break
		}
		if evs[len(evs)-1].Index < hi { // the page bound cut the window
			if round == 0 {
				resp := OK(view.ID, view.Customer, view.Alias, view.Ended, page.Next, WireEvents(chatcore.VisibleEvents(evs, chatcore.Client)))
				resp.More = true
				return resp, nil
			}
			break
		}
		out = append(chatcore.VisibleEvents(evs, chatcore.Client), out...)
		hi = lo - 1
	}
	if int64(len(out)) > n {
		out = out[int64(len(out))-n:]
	}
	return OK(view.ID, view.Customer, view.Alias, view.Ended, last+1, WireEvents(out)), nil
}

func (b *CoreBackend) fileLimits(ctx context.Context, op Op, view chatcore.ChatView) (Response, error) {
	lim, err := b.Core.FileLimits(ctx, view.ID, view.Customer)
	if err != nil {
		if ended(err) {
			return Ended(view.ID), nil
		}
		return Response{}, apiError(err)
	}
	resp, err := b.answer(ctx, view, op.Position)
	if err != nil {
		return Response{}, err
	}
	// The limits travel as a Notice in messages (GMSLibrary reads them there). It is not a
	// transcript event: index 0, never stored, never shown to other participants.
	resp.Messages = append(resp.Messages, Event{
		From: From{Type: "External"}, Type: string(chatcore.EventNotice), UTCTime: time.Now().UnixMilli(),
		Text: chatcore.FileLimitsNoticeText, UserData: lim.UserData(),
	})
	return resp, nil
}

func (b *CoreBackend) upload(ctx context.Context, op Op, view chatcore.ChatView) (Response, error) {
	if op.File == nil {
		return Response{}, Errorf(CodeMissingField, "file is required")
	}
	ud := maps.Clone(op.UserData)
	delete(ud, "file-description")
	res, err := b.Core.UploadFile(ctx, view.ID, view.Customer, chatcore.Upload{
		Name: op.File.Name, ContentType: op.File.ContentType, Data: op.File.Data,
		Description: op.UserData["file-description"], UserData: ud,
	})
	if err != nil {
		if ended(err) {
			return Ended(view.ID), nil
		}
		if errors.Is(err, chatcore.ErrTooLarge) {
			return Response{}, wrapErr(CodeFileTooLarge, "file too large", err)
		}
		return Response{}, apiError(err)
	}
	resp, err := b.answer(ctx, res.Chat, op.Position)
	if err != nil {
		return Response{}, err
	}
	resp.UserData = res.UserData
	return resp, nil
}

// Download opens a file of the customer's chat (counted against download-attempts).
func (b *CoreBackend) Download(ctx context.Context, op Op) (FileMeta, io.ReadCloser, error) {
	view, err := b.authenticate(op)
	if err != nil {
		return FileMeta{}, nil, err
	}
	m, rc, err := b.Core.DownloadFile(ctx, view.ID, view.Customer, op.FileID)
	if err != nil {
		return FileMeta{}, nil, apiError(err)
	}
	return FileMeta{Name: m.Name, ContentType: m.ContentType, Size: m.Size}, rc, nil
}

// Touch records protocol activity (a CometD connect or publish) of the chat's customer.
func (b *CoreBackend) Touch(ctx context.Context, chatID, secureKey string) error {
	view, err := b.Core.Authenticate(chatID, secureKey, "", "")
	if err != nil {
		return err
	}
	if view.Ended || !view.CustomerPresent {
		return nil
	}
	return b.Core.Touch(chatID, view.Customer)
}

// ended reports errors that mean "this chat is over for the customer".
func ended(err error) bool {
	return errors.Is(err, chatcore.ErrChatEnded) || errors.Is(err, chatcore.ErrNotParticipant)
}

// apiError maps chatcore's errors onto the GMS error codes of docs/gms-api.md.
func apiError(err error) error {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, chatcore.ErrBadSecureKey), errors.Is(err, chatcore.ErrChatNotFound):
		// One answer for both, so chat ids cannot be probed.
		return wrapErr(CodeForbidden, "unknown chat or wrong credentials", err)
	case ended(err):
		// Only where no Ended response can be given (a file download).
		return wrapErr(CodeForbidden, "chat ended", err)
	case errors.Is(err, chatcore.ErrFileNotFound):
		return wrapErr(CodeFileNotFound, "unknown file", err)
	case errors.Is(err, chatcore.ErrTooLarge):
		return wrapErr(CodeMessageTooLarge, "value too large", err)
	case errors.Is(err, chatcore.ErrTranscriptFull):
		return wrapErr(CodeTranscriptFull, "chat transcript limit reached", err)
	case errors.Is(err, chatcore.ErrRateLimited):
		return wrapErr(CodeRateLimited, "too many events in this chat, slow down", err)
	case errors.Is(err, chatcore.ErrQuota):
		return wrapErr(CodeUnavailable, "storage quota reached, retry later", err)
	case errors.Is(err, chatcore.ErrFileType):
		return wrapErr(CodeFileTypeForbidden, "file type not allowed", err)
	case errors.Is(err, chatcore.ErrFileLimit):
		return wrapErr(CodeFileLimit, "file limit reached", err)
	case errors.Is(err, chatcore.ErrInvalid):
		return wrapErr(CodeInvalidField, "invalid value", err)
	case errors.Is(err, chatcore.ErrConflict):
		return wrapErr(CodeConflict, "concurrent update, retry", err)
	case errors.Is(err, chatcore.ErrUnavailable), errors.Is(err, chatcore.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return wrapErr(CodeUnavailable, "service unavailable, retry", err)
	}
	return wrapErr(CodeInternal, "internal error", err)
}

// WireEvents converts committed chatcore events to the wire shape (§1.5).
func WireEvents(evs []chatcore.Event) []Event {
	if len(evs) == 0 {
		return nil
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = WireEvent(e)
	}
	return out
}

// WireEvent converts one committed chatcore event to the wire shape.
func WireEvent(e chatcore.Event) Event {
	return Event{
		From:  From{Nickname: e.From.Nickname, ParticipantID: e.From.ParticipantID, Type: string(e.From.Type)},
		Index: e.Index, Type: string(e.Type), UTCTime: e.UTCTime,
		Text: e.Text, MessageType: e.MessageType, UserData: e.UserData,
	}
}
