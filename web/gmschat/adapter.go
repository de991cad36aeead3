package gmschat

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/chatgate/chatgate/web/download"
)

// Paths served by the adapter.
const (
	NtfPath        = "/genesys/2/chat-ntf"
	ChannelPrefix  = "/service/chatV2/"
	ServicePattern = "/service/chatV2/*"
)

// Options configures the adapter.
type Options struct {
	// Limits bounds request decoding (zero fields: the defaults documented on Limits).
	Limits Limits
	// Services decides which service names exist; nil accepts every syntactically valid name.
	Services func(name string) bool
	// MaxSessionsPerChat bounds the Bayeux sessions attached to one chat (default 16).
	MaxSessionsPerChat int
	Logger             *slog.Logger
}

// Adapter serves the GMS Chat API v2 (REST, chat-ntf, CometD service channel) over a Backend.
type Adapter struct {
	be  Backend
	ss  Sessions
	lim Limits
	svc func(string) bool
	log *slog.Logger
	idx *attachIndex
}

// NewAdapter builds an adapter over a chat backend and a Bayeux session source.
func NewAdapter(be Backend, ss Sessions, o Options) *Adapter {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{be: be, ss: ss, lim: o.Limits.withDefaults(), svc: o.Services, log: log, idx: newAttachIndex(o.MaxSessionsPerChat)}
}

// Register mounts the REST and chat-ntf endpoints.
func (a *Adapter) Register(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle(RESTPrefix, http.HandlerFunc(a.ServeREST))
	mux.Handle(NtfPath, http.HandlerFunc(a.ServeNtf))
	mux.Handle(NtfPath+"/{$}", http.HandlerFunc(a.ServeNtf)) // trailing slash tolerated
}

func (a *Adapter) serviceOK(name string) bool { return a.svc == nil || a.svc(name) }

// ServeREST serves /genesys/2/chat/{serviceName}[/{chatId}/{operation}...].
func (a *Adapter) ServeREST(w http.ResponseWriter, r *http.Request) {
	op, err := ParseREST(r, a.lim)
	if err == nil && !a.serviceOK(op.Service) {
		err = Errorf(CodeUnknownService, "unknown service")
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	ctx := r.Context()
	switch op.Kind {
	case OpRequestChat:
		resp, err := a.be.CreateChat(ctx, op)
		a.answer(w, resp, err)
	case OpFileDownload:
		a.download(w, r, op)
	default:
		resp, err := a.be.Do(ctx, op)
		a.answer(w, resp, err)
	}
}

// answer writes a REST answer; a failure carries the credentials resp holds (those the
// backend verified before failing).
func (a *Adapter) answer(w http.ResponseWriter, resp Response, err error) {
	if err != nil {
		a.logFailure(err)
		WriteFailure(w, err, resp.Credentials())
		return
	}
	WriteJSON(w, resp)
}

func (a *Adapter) logFailure(err error) {
	if AsAPIError(err).Code == CodeInternal {
		a.log.Error("gms request failed", "err", err)
	}
}

func (a *Adapter) download(w http.ResponseWriter, r *http.Request, op Op) {
	meta, rc, err := a.be.Download(r.Context(), op)
	if err != nil {
		a.logFailure(err)
		WriteError(w, err)
		return
	}
	defer rc.Close()
	if err := download.Serve(w, download.File{Name: meta.Name, ContentType: meta.ContentType, Size: meta.Size}, rc); err != nil {
		a.log.Debug("file download aborted", "err", err)
	}
}

// ServeNtf serves POST /genesys/2/chat-ntf: the CometD flavour's file operations, allowed only
// to a browser whose BAYEUX_BROWSER cookie names a Bayeux session attached to the chat.
func (a *Adapter) ServeNtf(w http.ResponseWriter, r *http.Request) {
	op, err := ParseNtf(r, a.lim)
	if err != nil {
		WriteError(w, err)
		return
	}
	ids, ok := a.ss.BrowserSessions(r)
	if !ok {
		WriteError(w, Errorf(CodeNoBayeuxSession, "no Bayeux session for this browser"))
		return
	}
	// The chat comes from the browser's attached sessions; the secureKey must match it.
	lastErr := error(Errorf(CodeNoBayeuxSession, "no Bayeux session of this browser is attached to a chat"))
	for _, id := range ids {
		at, ok := a.idx.session(id)
		if !ok {
			continue
		}
		op.ChatID, op.Service = at.chatID, at.service
		if op.Kind == OpFileDownload {
			a.download(w, r, op)
			return
		}
		resp, err := a.be.Do(r.Context(), op)
		if err != nil && AsAPIError(err).Code == CodeForbidden {
			lastErr = err
			continue // another chat of the same browser
		}
		a.answer(w, resp, err)
		return
	}
	WriteError(w, lastErr)
}

// Connected reports whether the customer userID of chatID has a live Bayeux session attached
// (the presence the push link asks before pushing, and the liveness answer).
func (a *Adapter) Connected(chatID, userID string) bool {
	return a.idx.connected(chatID, userID, a.ss.Live)
}

// HandleComet runs one publish on /service/chatV2/{service} from Bayeux session sessionID and
// pushes the answer to that session on the same channel.
func (a *Adapter) HandleComet(ctx context.Context, sessionID, channel string, data []byte) {
	service := channel[len(ChannelPrefix):]
	op, err := ParseComet(service, data, a.lim)
	if err == nil && !a.serviceOK(op.Service) {
		err = Errorf(CodeUnknownService, "unknown service")
	}
	if err != nil {
		a.push(ctx, sessionID, channel, Failure(err, ""))
		return
	}
	switch op.Kind {
	case OpRequestChat:
		resp, err := a.be.CreateChat(ctx, op)
		if err != nil {
			a.logFailure(err)
			a.push(ctx, sessionID, channel, Failure(err, ""))
			return
		}
		a.attachAndPush(ctx, sessionID, channel, service, resp.SecureKey, resp)
	case OpRequestNotifications:
		op.ChatID = "" // found from the secureKey: a new session knows no chat yet
		resp, err := a.be.Do(ctx, op)
		if err != nil {
			a.logFailure(err)
			a.push(ctx, sessionID, channel, Failure(err, "").WithCredentials(resp.Credentials()))
			return
		}
		a.attachAndPush(ctx, sessionID, channel, service, op.SecureKey, resp)
	default:
		at, attached := a.idx.session(sessionID)
		if attached {
			op.ChatID = at.chatID
		}
		// Events of the operation reach the session through OnEvent; the answer carries
		// events only if the client asked with an explicit transcriptPosition (refresh, a
		// read, keeps the REST rule: absent = all).
		if !op.PositionGiven && op.Kind != OpRefresh {
			op.Position = PositionNone
		}
		resp, err := a.be.Do(ctx, op)
		if err != nil {
			a.logFailure(err)
			a.push(ctx, sessionID, channel, Failure(err, op.ChatID).WithCredentials(resp.Credentials()))
			return
		}
		if !attached {
			a.attachAndPush(ctx, sessionID, channel, service, op.SecureKey, resp)
			return
		}
		if err := at.answer(lastIndex(resp), func() error { return a.ss.Deliver(ctx, sessionID, channel, resp) }); err != nil {
			a.dropped(sessionID, err)
			a.idx.detach(sessionID)
		}
	}
}

// attachAndPush attaches the session to the answered chat and pushes the answer before any
// live event of that chat can reach the session. The attachment's lock is held while pushing
// and released before a failed push detaches the session (lock order: attach.go).
func (a *Adapter) attachAndPush(ctx context.Context, sessionID, channel, service, secureKey string, resp Response) {
	at, err := a.idx.attach(sessionID, resp.ChatID, resp.UserID, service, secureKey, 0)
	if err != nil {
		a.log.Warn("gms attach refused", "err", err)
		a.push(ctx, sessionID, channel, Failure(Errorf(CodeRateLimited, "too many sessions attached to this chat"), "").WithCredentials(resp.Credentials()))
		return
	}
	err = a.replayHeld(ctx, at, channel, service, secureKey, resp)
	at.release()
	if err != nil {
		a.dropped(sessionID, err)
		a.idx.detach(sessionID)
	}
}

// replayHeld pushes resp, then the events committed between the read behind resp and the
// attach (they reached no session; at most one page), while at is held so live events wait. The error is a
// failed push (the session is gone).
func (a *Adapter) replayHeld(ctx context.Context, at *attachment, channel, service, secureKey string, resp Response) error {
	if err := at.pushHeld(lastIndex(resp), func() error { return a.ss.Deliver(ctx, at.sessionID, channel, resp) }); err != nil {
		return err
	}
	// A cut answer (one page of a longer transcript) is not completed here: more pages would
	// only push the session's Bayeux queue over its byte bound and drop the first one. The
	// client continues with refresh from nextPosition; live events follow as usual.
	if resp.NextPosition == nil || resp.ChatEnded || resp.More {
		return nil
	}
	more, err := a.be.Do(ctx, Op{Kind: OpRefresh, Service: service, ChatID: resp.ChatID, SecureKey: secureKey, Position: *resp.NextPosition})
	if err != nil || len(more.Messages) == 0 {
		return nil
	}
	return at.pushHeld(lastIndex(more), func() error { return a.ss.Deliver(ctx, at.sessionID, channel, more) })
}

func (a *Adapter) pushTo(ctx context.Context, at *attachment, channel string, resp Response) {
	if _, err := at.deliver(lastIndex(resp), func() error { return a.ss.Deliver(ctx, at.sessionID, channel, resp) }); err != nil {
		a.dropped(at.sessionID, err)
		a.idx.detach(at.sessionID)
	}
}

func (a *Adapter) push(ctx context.Context, sessionID, channel string, resp Response) {
	if err := a.ss.Deliver(ctx, sessionID, channel, resp); err != nil {
		a.dropped(sessionID, err)
		a.idx.detach(sessionID)
	}
}

// lastIndex is the highest event index in a response (0 if none).
func lastIndex(r Response) int64 {
	var m int64
	for _, e := range r.Messages {
		if e.Index > m {
			m = e.Index
		}
	}
	return m
}

// OnEvent pushes one committed chat event to every Bayeux session attached to the chat, in
// the common response shape. The chat listener calls it once per event, in index order.
func (a *Adapter) OnEvent(ctx context.Context, chatID, alias string, chatEnded bool, ev Event) {
	for _, at := range a.idx.chat(chatID) {
		resp := OK(chatID, at.userID, alias, chatEnded, ev.Index+1, []Event{ev})
		resp.SecureKey = at.secureKey // §9.4: every answer to the party carries its key
		a.pushTo(ctx, at, ChannelPrefix+at.service, resp)
	}
}

// SessionRemoved detaches a removed Bayeux session. disconnectExt is the ext of its
// /meta/disconnect (nil if it expired): with ext.transcriptPosition the customer went to the
// background and the chat continues (push notifies it later); either way nothing is ended here.
func (a *Adapter) SessionRemoved(sessionID string, disconnectExt []byte) {
	at, ok := a.idx.detach(sessionID)
	if !ok {
		return
	}
	if pos, bg := DisconnectPosition(disconnectExt); bg {
		a.log.Debug("gms customer went to background", "chat", at.chatID, "transcriptPosition", pos)
	}
}

// Touch records protocol activity for the chat a live session is attached to (called on each
// /meta/connect and publish of an attached customer).
func (a *Adapter) Touch(ctx context.Context, sessionID string) {
	at, ok := a.idx.session(sessionID)
	if !ok {
		return
	}
	if err := a.be.Touch(ctx, at.chatID, at.secureKey); err != nil && !errors.Is(err, context.Canceled) {
		a.log.Debug("gms touch failed", "chat", at.chatID, "err", err)
	}
}

func (a *Adapter) dropped(sessionID string, err error) {
	a.log.Debug("gms push dropped: Bayeux session gone", "session", sessionID, "err", err)
}
