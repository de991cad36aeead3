package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// The Docker build context is an allow-list (.dockerignore), so a file the binary newly
// reads — a Go file, a //go:embed asset — is left out of `docker build` unless the list is
// widened, and the image build fails with "pattern ...: no matching files found". This test
// asks the go command which files `go build ./cmd/chatgate` reads and checks each against
// the .dockerignore with Docker's own matcher (github.com/moby/patternmatcher).
func TestDockerBuildContextHasWhatTheBuildReads(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,Module,GoFiles,CgoFiles,EmbedFiles", "./cmd/chatgate")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir                           string
			Module                        *struct{ Main bool }
			GoFiles, CgoFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue // the standard library and modules come from the module cache
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.EmbedFiles} {
			for _, name := range list {
				files = append(files, filepath.ToSlash(filepath.Join(rel, name)))
			}
		}
	}
	if len(files) < 50 {
		t.Fatalf("only %d files from go list: %s", len(files), out)
	}
	var missing []string
	for _, name := range files {
		excluded, err := pm.MatchesOrParentMatches(name)
		if err != nil {
			t.Fatal(err)
		}
		if excluded {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf(".dockerignore leaves out files the build reads:\n%s", strings.Join(missing, "\n"))
	}
}
