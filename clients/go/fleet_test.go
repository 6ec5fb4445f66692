package smsws_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sms-ws/sms-ws-gateway/clients/go/publisher"
)

// A real fleet from clients/testkit/launch-fleet.mjs: nats-server with the production
// permissions, provisioned, one API key and one token signer, N `sms-ws serve` nodes. The
// integration tests run when SMSWS_INTEGRATION=1 (.ci/run sets it); then a missing launcher,
// node or dist/ fails the test with the reason instead of skipping it.

type fleetInfo struct {
	NatsURL string `json:"natsUrl"`
	Nodes   []struct {
		URL  string `json:"url"`
		HTTP string `json:"http"`
		PID  int    `json:"pid"`
	} `json:"nodes"`
	TenantID string `json:"tenantId"`
	AppID    string `json:"appId"`
	APIKey   string `json:"apiKey"`
	AdminKey string `json:"adminKey"`
	Roles    map[string]struct {
		User        string `json:"user"`
		Pass        string `json:"pass"`
		InboxPrefix string `json:"inboxPrefix"`
	} `json:"roles"`
}

type fleet struct {
	fleetInfo
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	mu    sync.Mutex
	in    *json.Encoder
	out   *bufio.Scanner
	next  int
}

func integration(t *testing.T) {
	t.Helper()
	if os.Getenv("SMSWS_INTEGRATION") != "1" {
		t.Skip("integration test: set SMSWS_INTEGRATION=1 (needs node, nats-server and `npm run build` at the repository root)")
	}
}

var tenantSeq int

func startFleet(t *testing.T, nodes int) *fleet {
	t.Helper()
	return startPartitionedFleet(t, nodes, 1)
}

// startPartitionedFleet: STREAM_PARTITIONS=partitions for the server, its streams and the nodes.
func startPartitionedFleet(t *testing.T, nodes, partitions int) *fleet {
	t.Helper()
	integration(t)
	root, _ := filepath.Abs("../..")
	launcher := filepath.Join(root, "clients", "testkit", "launch-fleet.mjs")
	for _, need := range []string{launcher, filepath.Join(root, "dist", "cli", "main.js")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("integration: %s is missing (run `npm run build` at the repository root): %v", need, err)
		}
	}
	tenantSeq++
	tenant := fmt.Sprintf("Tgo%d_%d", os.Getpid(), tenantSeq)
	cmd := exec.Command("node", launcher, "--nodes", fmt.Sprint(nodes), "--tenant", tenant, "--partitions", fmt.Sprint(partitions))
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("integration: cannot start the launcher (is node on PATH?): %v", err)
	}
	f := &fleet{cmd: cmd, stdin: stdin, in: json.NewEncoder(stdin), out: bufio.NewScanner(stdout)}
	f.out.Buffer(make([]byte, 1<<20), 1<<20)
	t.Cleanup(func() {
		_ = stdin.Close() // the launcher stops every process and removes its directory
		_ = cmd.Wait()
	})
	if !f.out.Scan() {
		t.Fatalf("integration: the launcher exited before printing the fleet: %v", f.out.Err())
	}
	if err := json.Unmarshal(f.out.Bytes(), &f.fleetInfo); err != nil {
		t.Fatalf("integration: launcher output: %v", err)
	}
	return f
}

func (f *fleet) command(t testing.TB, cmd string, args map[string]any) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	msg := map[string]any{"id": f.next, "cmd": cmd}
	for k, v := range args {
		msg[k] = v
	}
	if err := f.in.Encode(msg); err != nil {
		t.Fatalf("launcher %s: %v", cmd, err)
	}
	if !f.out.Scan() {
		t.Fatalf("launcher %s: no answer", cmd)
	}
	var reply map[string]any
	_ = json.Unmarshal(f.out.Bytes(), &reply)
	if reply["ok"] != true {
		t.Fatalf("launcher %s failed: %v", cmd, reply["error"])
	}
	return reply
}

func (f *fleet) token(t testing.TB, ttlSeconds int) string {
	return f.command(t, "token", map[string]any{"ttl": ttlSeconds})["token"].(string)
}

func (f *fleet) publisher(t *testing.T) *publisher.Publisher { return f.publisherAs(t, "producer") }

func (f *fleet) publisherAs(t *testing.T, role string) *publisher.Publisher {
	r := f.Roles[role]
	nc, err := nats.Connect(f.NatsURL, nats.UserInfo(r.User, r.Pass), nats.CustomInboxPrefix(r.InboxPrefix))
	if err != nil {
		t.Fatalf("producer connect: %v", err)
	}
	t.Cleanup(nc.Close)
	p, err := publisher.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fleet) publish(t *testing.T, p *publisher.Publisher, n int) *publisher.Published {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.PublishStatus(ctx, publisher.Status{MessageID: fmt.Sprintf("m%d", n), AppID: f.AppID, TenantID: f.TenantID, Status: "sent"})
	if err != nil {
		t.Fatalf("publish %d: %v", n, err)
	}
	return res
}
