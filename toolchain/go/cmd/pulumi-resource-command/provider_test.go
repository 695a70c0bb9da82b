package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const testURN = "urn:pulumi:dev::proj::command:local:Command::hello"

// logRecorder collects the lines the provider logs.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) log(_ context.Context, urn, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, urn+" "+line)
}

func newTestProvider() (*commandProvider, *logRecorder) {
	p := newProvider("1.2.1")
	rec := &logRecorder{}
	p.log = rec.log
	return p, rec
}

func props(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := marshal(resource.NewPropertyMapFromMap(m), true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal(s, true)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func str(t *testing.T, m resource.PropertyMap, key string) string {
	t.Helper()
	v, ok := m[resource.PropertyKey(key)]
	if !ok || !v.IsString() {
		t.Fatalf("property %s: want a string, got %v", key, v)
	}
	return v.StringValue()
}

func TestCreateRunsCommandAndLogsOutput(t *testing.T) {
	p, rec := newTestProvider()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn:        testURN,
		Properties: props(t, map[string]any{"create": "echo hello; echo oops >&2", "delete": "true"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Id, "hello") || len(resp.Id) != len("hello")+8 {
		t.Errorf("id %q: want hello + 8 hex digits", resp.Id)
	}
	out := get(t, resp.Properties)
	if got := str(t, out, "stdout"); got != "hello" {
		t.Errorf("stdout = %q", got)
	}
	if got := str(t, out, "stderr"); got != "oops" {
		t.Errorf("stderr = %q", got)
	}
	if got := str(t, out, "delete"); got != "true" {
		t.Errorf("inputs are not part of the outputs: delete = %q", got)
	}
	logged := strings.Join(rec.lines, "\n")
	if !strings.Contains(logged, testURN+" hello") || !strings.Contains(logged, testURN+" oops") {
		t.Errorf("output not logged against the resource: %q", rec.lines)
	}
}

func TestCreateEnvironmentDirStdinInterpreterLogging(t *testing.T) {
	p, rec := newTestProvider()
	dir := t.TempDir()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: testURN,
		Properties: props(t, map[string]any{
			"create":      `printf '%s|%s|' "$GREETING" "$(pwd)"; cat`,
			"environment": map[string]any{"GREETING": "hi"},
			"dir":         dir,
			"stdin":       "from-stdin",
			"interpreter": []any{"/bin/bash", "-c"},
			"logging":     "none",
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	if got, want := str(t, get(t, resp.Properties), "stdout"), "hi|"+realDir+"|from-stdin"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if len(rec.lines) != 0 {
		t.Errorf("logging none still logged %q", rec.lines)
	}
}

func TestPreviewDoesNotRunCommands(t *testing.T) {
	p, _ := newTestProvider()
	marker := filepath.Join(t.TempDir(), "ran")
	in := props(t, map[string]any{"create": "touch " + marker, "update": "touch " + marker})
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: in, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := get(t, resp.Properties)["stdout"]; !v.IsComputed() {
		t.Errorf("stdout in preview = %v, want unknown", v)
	}
	old := props(t, map[string]any{"create": "x", "stdout": "before", "stderr": ""})
	if _, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: testURN, Olds: old, News: in, Preview: true,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a preview ran the command")
	}
}

func TestUpdateRunsUpdateOrCreateWithPreviousOutput(t *testing.T) {
	p, _ := newTestProvider()
	old := props(t, map[string]any{"create": "echo one", "stdout": "one", "stderr": ""})
	// Without `update`, `create` runs again.
	resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: testURN, Olds: old, News: props(t, map[string]any{"create": `echo "two after $PULUMI_COMMAND_STDOUT"`}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, get(t, resp.Properties), "stdout"); got != "two after one" {
		t.Errorf("stdout = %q", got)
	}
	// With `update`, it runs instead; addPreviousOutputInEnv=false hides the previous output.
	resp, err = p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: testURN, Olds: old, News: props(t, map[string]any{
			"create": "echo create", "update": `echo "update[$PULUMI_COMMAND_STDOUT]"`, "addPreviousOutputInEnv": false,
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, get(t, resp.Properties), "stdout"); got != "update[]" {
		t.Errorf("stdout = %q", got)
	}
}

func TestDeleteRunsDeleteWithRecordedOutput(t *testing.T) {
	p, _ := newTestProvider()
	file := filepath.Join(t.TempDir(), "deleted")
	state := props(t, map[string]any{
		"create": "echo created", "delete": `echo "$PULUMI_COMMAND_STDOUT/$PULUMI_COMMAND_STDERR" > ` + file,
		"stdout": "created", "stderr": "warned",
	})
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: testURN, Id: "x", Properties: state}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "created/warned" {
		t.Errorf("delete saw %q", got)
	}
	// Without a delete command, Delete does nothing and succeeds.
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: testURN, Id: "x", Properties: props(t, map[string]any{"create": "echo"}),
	}); err != nil {
		t.Fatal(err)
	}
}

func TestFailingCommandReportsItsOutput(t *testing.T) {
	p, _ := newTestProvider()
	_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: testURN, Properties: props(t, map[string]any{"create": "echo partial; echo 'it broke' >&2; exit 3"}),
	})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"exit status 3", "it broke", "partial", `"echo partial;`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: testURN, Properties: props(t, map[string]any{"delete": "false"}),
	})
	if err == nil {
		t.Error("a failing delete command must fail Delete")
	}
}

func TestDiff(t *testing.T) {
	p, _ := newTestProvider()
	diff := func(olds, news map[string]any) *pulumirpc.DiffResponse {
		t.Helper()
		resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
			Urn: testURN, OldInputs: props(t, olds), Olds: props(t, olds), News: props(t, news),
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	base := map[string]any{"create": "echo a", "triggers": []any{"x", 1.0}}

	if d := diff(base, base); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("same inputs: %v", d)
	}
	d := diff(base, map[string]any{"create": "echo b", "triggers": []any{"x", 1.0}, "delete": "rm f"})
	if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 {
		t.Errorf("create changed: %v", d)
	}
	if d.DetailedDiff["create"].GetKind() != pulumirpc.PropertyDiff_UPDATE ||
		d.DetailedDiff["delete"].GetKind() != pulumirpc.PropertyDiff_ADD {
		t.Errorf("detailed diff: %v", d.DetailedDiff)
	}
	d = diff(base, map[string]any{"create": "echo a", "triggers": []any{"y", 1.0}})
	if len(d.Replaces) != 1 || d.Replaces[0] != "triggers" ||
		d.DetailedDiff["triggers"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Errorf("triggers changed: want replace, got %v", d)
	}
	// Outputs in the old state are not inputs: they never make a diff.
	withOutputs := map[string]any{"create": "echo a", "triggers": []any{"x", 1.0}, "stdout": "a", "stderr": ""}
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: testURN, Olds: props(t, withOutputs), News: props(t, base),
	})
	if err != nil || resp.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("old outputs made a diff: %v %v", resp, err)
	}
	// An unknown new value is a change.
	news := resource.NewPropertyMapFromMap(map[string]any{"create": "echo a"})
	news["triggers"] = resource.MakeComputed(resource.NewStringProperty(""))
	if d := diffInputs(resource.NewPropertyMapFromMap(base), news); len(d.Replaces) != 1 {
		t.Errorf("unknown triggers: %v", d)
	}
}

func TestCheckReportsBadInputs(t *testing.T) {
	p, _ := newTestProvider()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: testURN,
		News: props(t, map[string]any{
			"create": 3.0, "interpreter": "sh", "logging": "loud", "assetPaths": []any{"*"},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range resp.Failures {
		got = append(got, f.Property)
	}
	if strings.Join(got, ",") != "assetPaths,create,interpreter,logging" {
		t.Errorf("failures: %v", resp.Failures)
	}
	ok, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: testURN, News: props(t, map[string]any{"create": "echo", "triggers": []any{"a"}}),
	})
	if err != nil || len(ok.Failures) != 0 || ok.Inputs == nil {
		t.Errorf("valid inputs: %v %v", ok, err)
	}
	if _, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: "urn:pulumi:dev::proj::command:remote:Command::x", News: props(t, map[string]any{}),
	}); err == nil {
		t.Error("remote commands must be refused")
	}
}

func TestInvokeRun(t *testing.T) {
	p, _ := newTestProvider()
	resp, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{
		Tok: runFunction, Args: props(t, map[string]any{"command": "echo ran"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, get(t, resp.Return), "stdout"); got != "ran" {
		t.Errorf("stdout = %q", got)
	}
	resp, err = p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: runFunction, Args: props(t, map[string]any{})})
	if err != nil || len(resp.Failures) != 1 || resp.Failures[0].Property != "command" {
		t.Errorf("missing command: %v %v", resp, err)
	}
}

func TestSchemaAndInfo(t *testing.T) {
	p, _ := newTestProvider()
	info, err := p.GetPluginInfo(context.Background(), nil)
	if err != nil || info.Version != "1.2.1" {
		t.Fatalf("plugin info %v %v", info, err)
	}
	resp, err := p.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Name      string
		Version   string
		Resources map[string]struct {
			InputProperties map[string]any
			Properties      map[string]any
		}
		Functions map[string]any
	}
	if err := json.Unmarshal([]byte(resp.Schema), &schema); err != nil {
		t.Fatal(err)
	}
	r, ok := schema.Resources[commandType]
	if schema.Name != "command" || schema.Version != "1.2.1" || !ok || schema.Functions[runFunction] == nil {
		t.Fatalf("schema: %s", resp.Schema)
	}
	for _, k := range inputKeys {
		if r.InputProperties[k] == nil || r.Properties[k] == nil {
			t.Errorf("schema lacks input %s", k)
		}
	}
	if r.Properties["stdout"] == nil || r.Properties["stderr"] == nil {
		t.Error("schema lacks stdout/stderr")
	}
}

// TestOverGRPC drives a create and a delete through a real gRPC server and client.
func TestOverGRPC(t *testing.T) {
	p, _ := newTestProvider()
	stop := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, p)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(stop); <-handle.Done }()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", handle.Port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pulumirpc.NewResourceProviderClient(conn)
	ctx := context.Background()

	file := filepath.Join(t.TempDir(), "f")
	created, err := client.Create(ctx, &pulumirpc.CreateRequest{
		Urn: testURN, Properties: props(t, map[string]any{"create": "echo hi > " + file + "; echo made", "delete": "rm " + file}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal("create did not run:", err)
	}
	if _, err := client.Delete(ctx, &pulumirpc.DeleteRequest{Urn: testURN, Id: created.Id, Properties: created.Properties}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatal("delete did not run")
	}
	_, err = client.Create(ctx, &pulumirpc.CreateRequest{
		Urn: testURN, Properties: props(t, map[string]any{"create": "echo nope >&2; exit 1"}),
	})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("failing create over gRPC: %v", err)
	}
}

// cancelDuring starts a create running script, calls Cancel once the script says "started" (its
// first line), and returns the create's error and how long it took after the Cancel.
func cancelDuring(t *testing.T, script string) (error, time.Duration) {
	t.Helper()
	p := newProvider("1.2.1")
	started := make(chan struct{})
	var once sync.Once
	p.log = func(_ context.Context, _, line string) {
		if line == "started" {
			once.Do(func() { close(started) })
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
			Urn: testURN, Properties: props(t, map[string]any{"create": script, "logging": "stdout"}),
		})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("the command ended before it was cancelled: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the command never printed started")
	}
	cancelled := time.Now()
	if _, err := p.Cancel(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		return err, time.Since(cancelled)
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled command was still running 20 s after Cancel")
	}
	return nil, 0
}

// An interrupted update: the command gets SIGTERM and time to leave its work in order (the suite
// hook writes its verdict there), not an uncatchable SIGKILL.
func TestCancelTerminatesACommandThatCanCleanUp(t *testing.T) {
	file := filepath.Join(t.TempDir(), "verdict")
	err, took := cancelDuring(t, `trap 'echo interrupted > `+file+`; exit 143' TERM; echo started; while :; do sleep 0.1; done`)
	if err == nil {
		t.Fatal("a cancelled create succeeded")
	}
	b, readErr := os.ReadFile(file)
	if readErr != nil || strings.TrimSpace(string(b)) != "interrupted" {
		t.Fatalf("the command's TERM handler did not run (%v, %q); create error: %v", readErr, b, err)
	}
	if took >= terminateGrace {
		t.Errorf("a command that exits on SIGTERM took %s after Cancel (grace %s)", took, terminateGrace)
	}
}

// A command that ignores SIGTERM is killed once the grace is over: cancellation is bounded.
func TestCancelKillsACommandThatIgnoresTerm(t *testing.T) {
	saved := terminateGrace
	terminateGrace = time.Second
	defer func() { terminateGrace = saved }()
	err, took := cancelDuring(t, `trap '' TERM; echo started; while :; do sleep 0.1; done`)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("want the command killed, got %v", err)
	}
	if took < terminateGrace || took > terminateGrace+5*time.Second {
		t.Errorf("killed %s after Cancel, want about the grace of %s", took, terminateGrace)
	}
}
