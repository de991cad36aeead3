package gmschat

import (
	"net/http"
	"net/url"
	"strings"
)

// OpKind names a Chat V2 operation independent of the flavour it arrived by. The values are
// the CometD operation names; REST paths map onto them (REST `send` is OpSendMessage).
type OpKind string

// Operations of gms-chat-v2.md §1.2, §2.3.
const (
	OpRequestChat          OpKind = "requestChat"
	OpRequestNotifications OpKind = "requestNotifications" // CometD only
	OpSendMessage          OpKind = "sendMessage"
	OpRefresh              OpKind = "refresh"
	OpStartTyping          OpKind = "startTyping"
	OpStopTyping           OpKind = "stopTyping"
	OpPushURL              OpKind = "pushUrl"
	OpUpdateNickname       OpKind = "updateNickname"
	OpUpdateData           OpKind = "updateData"
	OpCustomNotice         OpKind = "customNotice"
	OpDisconnect           OpKind = "disconnect"
	OpFileLimits           OpKind = "fileGetLimits"
	OpFileUpload           OpKind = "fileUpload"
	OpFileDownload         OpKind = "fileDownload"
	OpFileDelete           OpKind = "fileDelete"
)

// Op is one validated customer operation, ready to be executed against the chat core.
type Op struct {
	Kind    OpKind
	Service string
	// ChatID comes from the REST path; over CometD and chat-ntf it is resolved from the
	// session the secureKey belongs to (empty here).
	ChatID                   string
	SecureKey, UserID, Alias string
	// Request Chat fields; Nickname is "First Last" when only the names were given.
	Nickname, FirstName, LastName, Subject, Email string
	// Text is the message, typing preview, custom notice text or pushed URL.
	Text        string
	MessageType string
	// Position is transcriptPosition per §9.7 (absent = PositionAll, -N = the last N
	// events); PositionGiven says whether the client sent it.
	Position      int64
	PositionGiven bool
	UserData      map[string]string
	FileID        string
	File          *File
}

// RESTPrefix is the path every Chat V2 REST request starts with.
const RESTPrefix = "/genesys/2/chat/"

// restOps maps the last path element of /{svc}/{chatId}/{op} to its operation.
var restOps = map[string]OpKind{
	"send":           OpSendMessage,
	"refresh":        OpRefresh,
	"startTyping":    OpStartTyping,
	"stopTyping":     OpStopTyping,
	"pushUrl":        OpPushURL,
	"updateNickname": OpUpdateNickname,
	"updateData":     OpUpdateData,
	"customNotice":   OpCustomNotice,
	"disconnect":     OpDisconnect,
	"file":           OpFileUpload,
}

// cometOps are the operations accepted in data.operation on /service/chatV2/{svc}.
var cometOps = map[string]OpKind{
	"requestChat":          OpRequestChat,
	"requestNotifications": OpRequestNotifications,
	"refresh":              OpRefresh, // what the async Genesys widget restores with
	"sendMessage":          OpSendMessage,
	"startTyping":          OpStartTyping,
	"stopTyping":           OpStopTyping,
	"pushUrl":              OpPushURL,
	"updateNickname":       OpUpdateNickname,
	"updateData":           OpUpdateData,
	"customNotice":         OpCustomNotice,
	"disconnect":           OpDisconnect,
}

// ntfOps are the operations accepted by POST /genesys/2/chat-ntf (GMSLibrary spells the first
// one fileGetsLimits).
var ntfOps = map[string]OpKind{
	"fileGetLimits":  OpFileLimits,
	"fileGetsLimits": OpFileLimits,
	"fileUpload":     OpFileUpload,
	"fileDownload":   OpFileDownload,
	"fileDelete":     OpFileDelete,
}

// ParseRESTPath splits a REST path into service, chat id, operation and file id. One trailing
// slash is ignored.
func ParseRESTPath(p string) (service, chatID string, kind OpKind, fileID string, err error) {
	rest, ok := strings.CutPrefix(p, RESTPrefix)
	if !ok {
		return "", "", "", "", Errorf(CodeUnknownOperation, "unknown path")
	}
	// One trailing slash is tolerated on every operation: the Genesys widget requests a chat
	// at /genesys/2/chat/{svc}/.
	rest = strings.TrimSuffix(rest, "/")
	seg := strings.Split(rest, "/")
	if !validName(seg[0]) {
		return "", "", "", "", Errorf(CodeUnknownService, "unknown service")
	}
	service = seg[0]
	switch {
	case len(seg) == 1:
		return service, "", OpRequestChat, "", nil
	case len(seg) == 3:
		k, ok := restOps[seg[2]]
		if !ok {
			return "", "", "", "", Errorf(CodeUnknownOperation, "unknown operation")
		}
		return service, seg[1], k, "", nil
	case len(seg) == 4 && seg[2] == "file" && seg[3] == "limits":
		return service, seg[1], OpFileLimits, "", nil
	case len(seg) == 5 && seg[2] == "file" && (seg[4] == "download" || seg[4] == "delete"):
		if !validID(seg[3]) {
			return "", "", "", "", Errorf(CodeFileNotFound, "unknown file")
		}
		k := OpFileDownload
		if seg[4] == "delete" {
			k = OpFileDelete
		}
		return service, seg[1], k, seg[3], nil
	}
	return "", "", "", "", Errorf(CodeUnknownOperation, "unknown operation")
}

// ParseREST decodes and validates a REST Chat V2 request.
func ParseREST(r *http.Request, lim Limits) (Op, error) {
	if r.Method != http.MethodPost {
		return Op{}, Errorf(CodeMethodNotAllowed, "only POST is served")
	}
	service, chatID, kind, fileID, err := ParseRESTPath(r.URL.Path)
	if err != nil {
		return Op{}, err
	}
	req, err := DecodeForm(r, lim)
	if err != nil {
		return Op{}, err
	}
	op, err := buildOp(kind, req)
	if err != nil {
		return Op{}, err
	}
	op.Service, op.ChatID, op.FileID = service, chatID, fileID
	if chatID != "" && !validID(chatID) {
		// Same answer as an unknown chat (code 201): ids cannot be probed.
		return Op{}, Errorf(CodeForbidden, "unknown chat or wrong credentials")
	}
	return op, nil
}

// ParseComet decodes and validates the data of a publish on /service/chatV2/{service}.
func ParseComet(service string, data []byte, lim Limits) (Op, error) {
	if !validName(service) {
		return Op{}, Errorf(CodeUnknownService, "unknown service")
	}
	req, err := DecodeData(data, lim)
	if err != nil {
		return Op{}, err
	}
	name, err := req.Required("operation")
	if err != nil {
		return Op{}, err
	}
	kind, ok := cometOps[name]
	if !ok {
		return Op{}, Errorf(CodeUnknownOperation, "unknown operation")
	}
	op, err := buildOp(kind, req)
	if err != nil {
		return Op{}, err
	}
	op.Service = service
	return op, nil
}

// ParseNtf decodes and validates a POST /genesys/2/chat-ntf file operation.
func ParseNtf(r *http.Request, lim Limits) (Op, error) {
	if r.Method != http.MethodPost {
		return Op{}, Errorf(CodeMethodNotAllowed, "only POST is served")
	}
	req, err := DecodeForm(r, lim)
	if err != nil {
		return Op{}, err
	}
	name, err := req.Required("operation")
	if err != nil {
		return Op{}, err
	}
	kind, ok := ntfOps[name]
	if !ok {
		return Op{}, Errorf(CodeUnknownOperation, "unknown operation")
	}
	op, err := buildOp(kind, req)
	if err != nil {
		return Op{}, err
	}
	if kind == OpFileDownload || kind == OpFileDelete {
		id, err := req.Required("fileId")
		if err != nil {
			return Op{}, err
		}
		if !validID(id) {
			return Op{}, Errorf(CodeFileNotFound, "unknown file")
		}
		op.FileID = id
	}
	return op, nil
}

// buildOp applies the per-operation field rules shared by every flavour.
func buildOp(kind OpKind, req *Request) (Op, error) {
	op := Op{Kind: kind, UserData: req.UserData}
	op.SecureKey = req.Value("secureKey")
	op.UserID = req.Value("userId")
	op.Alias = req.Value("alias")
	pos, err := req.Position()
	if err != nil {
		return Op{}, err
	}
	op.Position = pos
	_, op.PositionGiven = req.Get("transcriptPosition")
	if kind == OpRequestChat {
		op.FirstName, op.LastName = req.Value("firstName"), req.Value("lastName")
		op.Nickname = strings.TrimSpace(req.Value("nickname"))
		if op.Nickname == "" {
			if strings.TrimSpace(op.FirstName) == "" || strings.TrimSpace(op.LastName) == "" {
				return Op{}, Errorf(CodeMissingField, "nickname, or firstName and lastName, is required")
			}
			op.Nickname = strings.TrimSpace(op.FirstName) + " " + strings.TrimSpace(op.LastName)
		}
		op.Subject, op.Email = req.Value("subject"), req.Value("emailAddress")
		return op, nil
	}
	if op.SecureKey == "" {
		return Op{}, Errorf(CodeMissingCredentials, "secureKey is required")
	}
	switch kind {
	case OpSendMessage:
		if op.Text, err = req.Required("message"); err != nil {
			return Op{}, err
		}
		op.MessageType = req.Value("messageType")
	case OpStartTyping, OpStopTyping, OpCustomNotice:
		op.Text = req.Value("message")
	case OpPushURL:
		if op.Text, err = req.Required("pushUrl"); err != nil {
			return Op{}, err
		}
		if !webURL(op.Text) {
			return Op{}, Errorf(CodeInvalidField, "pushUrl must be an absolute http or https URL")
		}
	case OpUpdateNickname:
		if op.Nickname, err = req.Required("nickname"); err != nil {
			return Op{}, err
		}
		if op.Nickname = strings.TrimSpace(op.Nickname); op.Nickname == "" {
			return Op{}, Errorf(CodeMissingField, "nickname is required")
		}
	case OpUpdateData:
		if len(op.UserData) == 0 {
			return Op{}, Errorf(CodeMissingField, "userData is required")
		}
	case OpFileUpload:
		if req.File == nil {
			return Op{}, Errorf(CodeMissingField, "file is required")
		}
		op.File = req.File
	}
	return op, nil
}

// webURL accepts only absolute http and https URLs with a host: agents click pushed URLs, so
// javascript:, data:, file: and the like (and anything url.Parse refuses, such as control
// characters a browser would strip to reveal "javascript:") never reach the transcript.
func webURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	return strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")
}

// validName accepts service names: [A-Za-z0-9_.-]{1,64}.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validID accepts chat and file ids as the store does: [A-Za-z0-9_-]{1,128}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
