package chatcore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/chatgate/chatgate/chatcore/jetstore"
)

// FileLimits are the [client-file-transfer] limits of a chat and what its customer used.
type FileLimits struct {
	DownloadAttempts, UsedDownloadAttempts int
	UploadMaxFiles, UsedUploadMaxFiles     int
	UploadMaxFileSize                      int64
	UploadMaxTotalSize, UsedUploadMaxTotal int64
	UploadNeedAgent                        bool
	UploadFileTypes                        []string
	DeleteFile                             bool
}

// UserData renders the limits as the file-limits Notice's userData (gms-chat-v2.md §1.7;
// all values strings).
func (l FileLimits) UserData() map[string]string {
	return map[string]string{
		"download-attempts":          strconv.Itoa(l.DownloadAttempts),
		"upload-max-files":           strconv.Itoa(l.UploadMaxFiles),
		"upload-max-file-size":       strconv.FormatInt(l.UploadMaxFileSize, 10),
		"upload-max-total-size":      strconv.FormatInt(l.UploadMaxTotalSize, 10),
		"upload-need-agent":          strconv.FormatBool(l.UploadNeedAgent),
		"upload-file-types":          strings.Join(l.UploadFileTypes, ":"),
		"used-upload-max-files":      strconv.Itoa(l.UsedUploadMaxFiles),
		"used-upload-max-total-size": strconv.FormatInt(l.UsedUploadMaxTotal, 10),
		"used-download-attempts":     strconv.Itoa(l.UsedDownloadAttempts),
		"delete-file":                strconv.FormatBool(l.DeleteFile),
	}
}

// FileLimitsNoticeText is the text of the Notice answering a file-limits request.
const FileLimitsNoticeText = "file-client-cfg-get"

// FileLimits returns the chat's file limits and usage (no event is committed: the caller
// answers with a Notice carrying FileLimits.UserData).
func (co *Core) FileLimits(ctx context.Context, chatID, userID string) (FileLimits, error) {
	var out FileLimits
	_, err := co.exec(ctx, chatID, func(t *txn) error {
		if t.st.present(userID) == nil && userID != t.st.Customer {
			return fmt.Errorf("user %.32q in chat %s: %w", userID, chatID, ErrNotParticipant)
		}
		t.touch = userID
		ft := t.opts.FileTransfer
		out = FileLimits{
			DownloadAttempts: ft.DownloadAttempts, UsedDownloadAttempts: t.st.UsedDownloads,
			UploadMaxFiles: ft.UploadMaxFiles, UsedUploadMaxFiles: t.st.UsedUploads,
			UploadMaxFileSize: ft.UploadMaxFileSize, UploadMaxTotalSize: ft.UploadMaxTotalSize,
			UsedUploadMaxTotal: t.st.UsedBytes, UploadNeedAgent: ft.UploadNeedAgent,
			UploadFileTypes: slices.Clone(ft.UploadFileTypes), DeleteFile: ft.DeleteFile,
		}
		return nil
	})
	return out, err
}

// Upload is a file to upload.
type Upload struct {
	Name        string // client file name (path elements are removed)
	ContentType string
	Data        []byte
	Description string            // userData[file-description]
	UserData    map[string]string // other userData[...] parts, kept on the event
	// Screen applies upload-file-types and upload-max-file-size to a non-customer uploader
	// too: the agent API sets it, since what an agent sends reaches the customer. The
	// customer's quotas (upload-max-files, upload-max-total-size) stay the customer's.
	Screen bool
}

// UploadFile stores a file and commits FileUploaded (userData: file-id, file-name,
// file-size, file-type, file-description and the upload's userData). The customer's
// uploads are checked against [client-file-transfer] first: ErrFileType, ErrTooLarge,
// ErrFileLimit; a screened upload (Upload.Screen) against its type and size rules. Result.UserData holds file-id.
func (co *Core) UploadFile(ctx context.Context, chatID, userID string, u Upload) (Result, error) {
	name := path.Base(strings.ReplaceAll(u.Name, "\\", "/"))
	if name == "" || name == "." || name == "/" || len(name) > 255 {
		return Result{}, fmt.Errorf("file name: %w", ErrInvalid)
	}
	if err := validText(u.Description, co.limits.MaxText, "file-description"); err != nil {
		return Result{}, err
	}
	if err := co.checkUserData(u.UserData, nil); err != nil {
		return Result{}, err
	}
	fileID := randomHex(8, false)
	stored := false
	res, err := co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		ft := t.opts.FileTransfer
		size := int64(len(u.Data))
		ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
		if p.Type == Client || u.Screen {
			switch {
			case !slices.Contains(ft.UploadFileTypes, ext):
				return fmt.Errorf("file type %.16q: %w", ext, ErrFileType)
			case size > ft.UploadMaxFileSize:
				return fmt.Errorf("file of %d bytes (upload-max-file-size %d): %w", size, ft.UploadMaxFileSize, ErrTooLarge)
			}
		}
		if p.Type == Client {
			switch {
			case t.st.UsedUploads >= ft.UploadMaxFiles:
				return fmt.Errorf("upload-max-files %d used: %w", ft.UploadMaxFiles, ErrFileLimit)
			case t.st.UsedBytes+size > ft.UploadMaxTotalSize:
				return fmt.Errorf("upload-max-total-size %d: %w", ft.UploadMaxTotalSize, ErrFileLimit)
			case ft.UploadNeedAgent && !t.st.agentPresent():
				return fmt.Errorf("upload-need-agent: no agent in the chat: %w", ErrFileLimit)
			}
		}
		meta, err := co.store.PutFile(ctx, chatID, fileID, FileMeta{Name: name, ContentType: u.ContentType}, bytes.NewReader(u.Data))
		if err != nil {
			return storeErr("chatcore: store file", err)
		}
		stored = true
		ud := maps.Clone(u.UserData)
		if ud == nil {
			ud = map[string]string{}
		}
		ud[KeyFileID], ud[KeyFileName], ud[KeyFileSize] = fileID, name, strconv.FormatInt(meta.Size, 10)
		if u.ContentType != "" {
			ud[KeyFileType] = u.ContentType
		}
		if u.Description != "" {
			ud[KeyFileDescription] = u.Description
		}
		t.emit(EventFileUploaded, p.from(), "", "", ud)
		t.result = map[string]string{KeyFileID: fileID}
		return nil
	})
	// A failed commit leaves no event pointing at the file, unless its outcome is unknown.
	if err != nil && stored && !errors.Is(err, ErrUnavailable) {
		if derr := co.store.DeleteFile(context.WithoutCancel(ctx), chatID, fileID); derr != nil {
			co.log.Warn("chatcore: removing an uncommitted upload", "chat", chatID, "err", derr)
		}
	}
	return res, err
}

// DownloadFile opens a file of the chat for a participant. The customer's downloads count
// against download-attempts (ErrFileLimit once used up). Close the reader.
func (co *Core) DownloadFile(ctx context.Context, chatID, userID, fileID string) (FileMeta, io.ReadCloser, error) {
	_, err := co.exec(ctx, chatID, func(t *txn) error {
		if t.st.present(userID) == nil {
			if t.st.Ended {
				return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
			}
			return fmt.Errorf("user %.32q in chat %s: %w", userID, chatID, ErrNotParticipant)
		}
		t.touch = userID
		if _, ok := t.st.Files[fileID]; !ok {
			return fmt.Errorf("file %.32q: %w", fileID, ErrFileNotFound)
		}
		if userID == t.st.Customer {
			if t.st.UsedDownloads >= t.opts.FileTransfer.DownloadAttempts {
				return fmt.Errorf("download-attempts %d used: %w", t.opts.FileTransfer.DownloadAttempts, ErrFileLimit)
			}
			t.change(func(st *chatState) { st.UsedDownloads++ })
		}
		return nil
	})
	if err != nil {
		return FileMeta{}, nil, err
	}
	meta, rc, err := co.store.OpenFile(ctx, chatID, fileID)
	if err != nil {
		if isNotFound(err) {
			return FileMeta{}, nil, fmt.Errorf("file %.32q: %w: %w", fileID, ErrFileNotFound, err)
		}
		return FileMeta{}, nil, fmt.Errorf("file %.32q: %w", fileID, storeErr("chatcore: open file", err))
	}
	return meta, rc, nil
}

// DeleteFile deletes a file and commits FileDeleted (userData file-id). The customer may
// delete only its own uploads; with delete-file=true the slot and bytes are given back.
func (co *Core) DeleteFile(ctx context.Context, chatID, userID, fileID string) (Result, error) {
	return co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		f, ok := t.st.Files[fileID]
		if !ok || (p.Type == Client && f.Uploader != userID) {
			return fmt.Errorf("file %.32q: %w", fileID, ErrFileNotFound)
		}
		// The file goes once the event is committed; a failure then leaves an orphan that
		// is deleted with the chat.
		t.after = append(t.after, func(ctx context.Context) {
			if err := co.store.DeleteFile(ctx, chatID, fileID); err != nil && !isNotFound(err) {
				co.log.Warn("chatcore: deleting a file", "chat", chatID, "err", err)
			}
		})
		t.emit(EventFileDeleted, p.from(), "", "", map[string]string{KeyFileID: fileID, KeyFileName: f.Name})
		return nil
	})
}

func isNotFound(err error) bool { return errors.Is(err, jetstore.ErrNotFound) }
