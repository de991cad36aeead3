package agentapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/download"
)

// File routes. An upload's body may be larger than MaxBody (see bodyLimit).
const (
	uploadPattern   = "POST /chats/{chatId}/files"
	downloadPattern = "GET /chats/{chatId}/files/{fileId}"
	limitsPattern   = "GET /chats/{chatId}/files/limits"
)

// Form fields of an upload (multipart/form-data).
const (
	fileField        = "file"
	descriptionField = "description"
	// maxUploadParts bounds the parts read from one upload body.
	maxUploadParts = 4
)

// bodyLimit is the body bound of a route: MaxBody, and MaxUpload more for an upload.
func (a *API) bodyLimit(pattern string) int64 {
	if pattern == uploadPattern {
		return a.cfg.MaxUpload + a.cfg.MaxBody
	}
	return a.cfg.MaxBody
}

// fileParty loads the chat and checks the caller is present in it: only a party of a live
// chat uploads or downloads (chatcore checks presence again under the chat's lock).
func (a *API) fileParty(r *http.Request, acct accounts.Account) (access, error) {
	ac, err := a.access(r.Context(), acct, r.PathValue("chatId"))
	if err != nil {
		return access{}, err
	}
	switch {
	case !ac.may():
		return access{}, errorf(ErrForbidden, "chat %s is not yours", ac.view.ID)
	case ac.view.Ended:
		return access{}, errorf(ErrConflict, "chat %s has ended", ac.view.ID)
	case !ac.present:
		return access{}, errorf(ErrForbidden, "you are not in chat %s", ac.view.ID)
	}
	return ac, nil
}

// upload stores the multipart "file" part in the chat (visible to everyone, the customer
// included) and answers 201 with its fileId. The chat's upload-file-types and
// upload-max-file-size apply to agents too (chatcore.Upload.Screen).
func (a *API) upload(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
	acct := p.Account
	ac, err := a.fileParty(r, acct)
	if err != nil {
		writeError(w, err)
		return
	}
	typ := partyType(acct.Role)
	// A file is seen by the customer: a monitoring or coaching supervisor barges in first.
	if typ == chatcore.Supervisor && a.modeOf(acct.ID, ac.view.ID) != chatcore.VisibilityAll {
		writeError(w, errorf(ErrConflict, "a file would be seen by the customer; barge in first"))
		return
	}
	up, err := a.readUpload(r)
	if err != nil {
		writeFileError(w, err)
		return
	}
	res, err := a.cfg.Chats.UploadFile(r.Context(), ac.view.ID, acct.ID, up)
	if err != nil {
		writeFileError(w, err)
		return
	}
	ci := a.info(res.Chat, acct, ac.inWorkbin, false, a.offered(ac.view.ID, acct.ID))
	writeJSON(w, http.StatusCreated, map[string]any{
		"fileId": res.UserData[chatcore.KeyFileID], "chat": ci, "events": wireEvents(res.Events, typ),
	})
}

// FileRules are the rules an agent's upload to a chat must meet, for a console to say them
// before the agent picks a file (the server checks them again on the upload).
type FileRules struct {
	// MaxFileSize is the chat's upload-max-file-size, at most the transport ceiling
	// (MaxUpload).
	MaxFileSize int64 `json:"maxFileSize"`
	// FileTypes are the allowed file name extensions (upload-file-types).
	FileTypes []string `json:"fileTypes"`
}

// fileLimits answers the chat's upload rules for the caller (a present participant).
func (a *API) fileLimits(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
	ac, err := a.fileParty(r, p.Account)
	if err != nil {
		writeError(w, err)
		return
	}
	l, err := a.cfg.Chats.FileLimits(r.Context(), ac.view.ID, p.Account.ID)
	if err != nil {
		writeError(w, coreErr(err))
		return
	}
	rules := FileRules{MaxFileSize: min(l.UploadMaxFileSize, a.cfg.MaxUpload), FileTypes: l.UploadFileTypes}
	if rules.FileTypes == nil {
		rules.FileTypes = []string{}
	}
	writeJSON(w, http.StatusOK, rules)
}

// errUploadTooLarge is a body or file part beyond the transport ceiling.
var errUploadTooLarge = errors.New("agentapi: upload too large")

// readUpload reads a multipart/form-data body with one "file" part and an optional
// "description" field, each bounded: the file by MaxUpload, the description by MaxBody
// (the body as a whole is bounded by http.MaxBytesReader).
func (a *API) readUpload(r *http.Request) (chatcore.Upload, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return chatcore.Upload{}, errorf(ErrInvalid, "body must be multipart/form-data")
	}
	var up chatcore.Upload
	seen := false
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return chatcore.Upload{}, multipartErr(err)
		}
		if n >= maxUploadParts {
			return chatcore.Upload{}, errorf(ErrInvalid, "more than %d parts", maxUploadParts)
		}
		switch part.FormName() {
		case fileField:
			if seen {
				return chatcore.Upload{}, errorf(ErrInvalid, "one file per upload")
			}
			seen = true
			up.Name, up.ContentType = part.FileName(), part.Header.Get("Content-Type")
			if up.Data, err = readBounded(part, a.cfg.MaxUpload); err != nil {
				return chatcore.Upload{}, err
			}
		case descriptionField:
			d, err := readBounded(part, a.cfg.MaxBody)
			if err != nil {
				return chatcore.Upload{}, err
			}
			up.Description = string(d)
		default:
			return chatcore.Upload{}, errorf(ErrInvalid, "unknown form field %.32q (file, description)", part.FormName())
		}
	}
	if !seen {
		return chatcore.Upload{}, errorf(ErrInvalid, "the %q part is required", fileField)
	}
	up.Screen = true
	return up, nil
}

// readBounded reads a part of at most limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, multipartErr(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("part larger than %d bytes: %w", limit, errUploadTooLarge)
	}
	return b, nil
}

func multipartErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("body larger than %d bytes: %w", mbe.Limit, errUploadTooLarge)
	}
	return errorf(ErrInvalid, "malformed multipart body")
}

// download serves a file of the chat as an inert attachment (web/download: the same rule as
// the customer's downloads).
func (a *API) download(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
	ac, err := a.fileParty(r, p.Account)
	if err != nil {
		writeError(w, err)
		return
	}
	meta, rc, err := a.cfg.Chats.DownloadFile(r.Context(), ac.view.ID, p.Account.ID, r.PathValue("fileId"))
	if err != nil {
		writeFileError(w, err)
		return
	}
	defer rc.Close()
	if err := download.Serve(w, download.File{Name: meta.Name, ContentType: meta.ContentType, Size: meta.Size}, rc); err != nil {
		a.log.Debug("agentapi: file download aborted", "err", err)
	}
}

// writeFileError answers a failed upload or download: the file rules' refusals with their
// own statuses and the core's message, the rest as every other action.
func writeFileError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errUploadTooLarge), errors.Is(err, chatcore.ErrTooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Code: "too_large", Error: err.Error()})
	case errors.Is(err, chatcore.ErrFileType):
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Code: "file_type", Error: err.Error()})
	case errors.Is(err, chatcore.ErrFileNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Code: "not_found", Error: err.Error()})
	case errors.Is(err, chatcore.ErrFileLimit):
		writeJSON(w, http.StatusConflict, errorBody{Code: "conflict", Error: err.Error()})
	case errors.Is(err, ErrInvalid):
		writeError(w, err)
	default:
		writeError(w, coreErr(err))
	}
}
