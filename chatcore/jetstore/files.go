package jetstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"
)

// files is the CHAT_FILES object store: one object per uploaded file, named
// <chatID>/<fileID>. Object stores chunk large files into 128 KiB messages, so files are
// not bound by the server's maximum message size.
type files struct{ obs jetstream.ObjectStore }

func filesBucketConfig(o Options) jetstream.ObjectStoreConfig {
	return jetstream.ObjectStoreConfig{
		Bucket:      FilesBucket,
		Description: "chatgate uploaded files, object <chatID>/<fileID>",
		Storage:     jetstream.FileStorage,
		MaxBytes:    limit(o.MaxFileBytes),
	}
}

func (f *files) put(ctx context.Context, chatID, fileID string, m FileMeta, r io.Reader) (int64, error) {
	meta := jetstream.ObjectMeta{Name: fileObject(chatID, fileID), Description: m.Name, Headers: map[string][]string{}}
	if m.ContentType != "" {
		meta.Headers.Set("Content-Type", m.ContentType)
	}
	for k, v := range m.Headers {
		meta.Headers.Set(k, v)
	}
	meta.Headers.Set("Chatgate-File-Name", m.Name)
	info, err := f.obs.Put(ctx, meta, r)
	if err != nil {
		return 0, writeErr("put file", err)
	}
	return int64(info.Size), nil
}

// get opens a stored file; the caller closes the reader.
func (f *files) get(ctx context.Context, chatID, fileID string) (FileMeta, io.ReadCloser, error) {
	res, err := f.obs.Get(ctx, fileObject(chatID, fileID))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return FileMeta{}, nil, fmt.Errorf("%w: file %s of chat %s", ErrNotFound, fileID, chatID)
	}
	if err != nil {
		return FileMeta{}, nil, unavailable("get file", err)
	}
	info, err := res.Info()
	if err != nil {
		_ = res.Close()
		return FileMeta{}, nil, unavailable("get file", err)
	}
	m := FileMeta{Name: info.Headers.Get("Chatgate-File-Name"), ContentType: info.Headers.Get("Content-Type"), Size: int64(info.Size), Headers: map[string]string{}}
	for k := range info.Headers {
		if k != "Chatgate-File-Name" && k != "Content-Type" {
			m.Headers[k] = info.Headers.Get(k)
		}
	}
	return m, res, nil
}

func (f *files) remove(ctx context.Context, chatID, fileID string) error {
	err := f.obs.Delete(ctx, fileObject(chatID, fileID))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("%w: file %s of chat %s", ErrNotFound, fileID, chatID)
	}
	if err != nil {
		return unavailable("delete file", err)
	}
	return nil
}
