package download

import (
	"io"
	"mime"
	"net/http"
	"strconv"
)

// DefaultType is the Content-Type of every file whose claimed type is not passive.
const DefaultType = "application/octet-stream"

// passiveTypes are the media types a download keeps: types a browser displays without
// running anything. Every other type the uploader claimed (text/html, image/svg+xml, XML,
// JavaScript, ...) is served as DefaultType.
var passiveTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/bmp": true, "image/webp": true,
	"application/pdf": true, "text/plain": true, "text/csv": true,
	"application/msword": true, "application/rtf": true,
	"application/vnd.ms-excel": true, "application/vnd.ms-powerpoint": true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"application/vnd.oasis.opendocument.text":                                   true,
	"application/vnd.oasis.opendocument.spreadsheet":                            true,
}

// ContentType is the Content-Type a file claimed as ct is served with: a passive type
// without its parameters, else DefaultType.
func ContentType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !passiveTypes[mt] {
		return DefaultType
	}
	return mt
}

// File is what Serve needs to know of a stored file.
type File struct {
	Name        string // offered as the attachment's file name
	ContentType string // as the uploader claimed it
	Size        int64  // 0: unknown (no Content-Length)
}

// Serve writes the file as an inert attachment (200, the headers described in the package
// comment) and copies body. The error is the copy's: the status is already sent then.
func Serve(w http.ResponseWriter, f File, body io.Reader) error {
	h := w.Header()
	h.Set("Content-Type", ContentType(f.ContentType))
	h.Set("X-Content-Type-Options", "nosniff")
	// Even if a browser renders it, the file runs no script and reaches nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	if f.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, err := io.Copy(w, body)
	return err
}
