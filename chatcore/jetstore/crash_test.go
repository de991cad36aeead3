package jetstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
)

const crashDirEnv = "JETSTORE_CRASH_CHILD_DIR"

// TestCrashChild is the child half of TestSIGKILLKeepsAcknowledgedEvents: with the env var
// set it appends to a real embedded store until it is killed, printing every acknowledged
// index. Run normally it has nothing to do and passes.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return
	}
	ctx := context.Background()
	c, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	s, err := Open(ctx, c, Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	last := map[string]int64{}
	for i := 0; ; i++ {
		chat := fmt.Sprintf("crash%d", i%7)
		n := int64(1 + i%3) // 1..3 events per record
		evs := make([][]byte, n)
		for k := range evs {
			evs[k] = fmt.Appendf(nil, `{"index":%d}`, last[chat]+int64(k)+1)
		}
		if err := s.AppendJSON(ctx, chat, last[chat], evs); err != nil {
			fmt.Fprintln(out, "ERR", err)
			_ = out.Flush()
			os.Exit(2)
		}
		last[chat] += n
		// Printed only after JetStream acknowledged the append.
		fmt.Fprintln(out, "ACK", chat, last[chat])
		_ = out.Flush()
	}
}

func TestSIGKILLKeepsAcknowledgedEvents(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{}
	sc := bufio.NewScanner(stdout)
	killed := false
	count := 0
	deadline := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ACK":
			idx, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("bad line %q", sc.Text())
			}
			acked[f[1]] = idx
			count++
			if count == 500 && !killed {
				// Kill mid-stream: the child keeps appending until the signal lands, and
				// every ACK line it managed to print is still read below.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		case "ERR":
			t.Fatalf("child: %s", sc.Text())
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed: %v (acks %d)", err, count)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}

	s := openStore(t, startEngine(t, dir, natsserver.SyncBackground))
	for chat, want := range acked {
		evs, err := pageAll(context.Background(), s, chat, 1)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(evs)) < want {
			t.Fatalf("chat %s: acknowledged up to index %d, found %d events", chat, want, len(evs))
		}
		for i, e := range evs {
			if e.Index != int64(i+1) || string(e.JSON) != fmt.Sprintf(`{"index":%d}`, i+1) {
				t.Fatalf("chat %s: event %d is %d %s", chat, i, e.Index, e.JSON)
			}
		}
	}
	t.Logf("%d acknowledged appends over %d chats survived SIGKILL", count, len(acked))
}
