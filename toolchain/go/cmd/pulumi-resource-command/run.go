package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// terminateGrace is how long a cancelled command has between SIGTERM and SIGKILL.
var terminateGrace = 10 * time.Second

// Environment variables that carry the previous run's outputs into update and delete commands.
const (
	envPreviousStdout = "PULUMI_COMMAND_STDOUT"
	envPreviousStderr = "PULUMI_COMMAND_STDERR"
)

// runResult is what a finished command produced, each stream without its final newline.
type runResult struct {
	stdout, stderr string
}

// runCommand runs `command` through the interpreter (default `/bin/sh -c`) in `dir` (default our
// working directory, which the engine sets to the program's), with our environment plus
// `environment`, and — unless addPreviousOutputInEnv is false — the previous outputs in
// PULUMI_COMMAND_STDOUT/STDERR. Each line of output is handed to logLine as it arrives (as
// `logging` selects). A failing command returns an error that quotes the command and its output.
func runCommand(ctx context.Context, command string, in commandInputs, previous runResult,
	logLine func(string),
) (runResult, error) {
	argv := append([]string{}, in.interpreter...)
	if len(argv) == 0 {
		argv = []string{"/bin/sh", "-c"}
	}
	argv = append(argv, command)

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Cancelled (the user interrupted the update: the engine's Cancel, or the request's context):
	// SIGTERM first, so a command can leave its work in order (the suite hook writes its run's
	// verdict); SIGKILL only if it is still there terminateGrace later. The same delay bounds how
	// long its output pipes are read after it exits (a grandchild holding them).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = terminateGrace
	if in.dir != nil {
		cmd.Dir = *in.dir
	}
	cmd.Env = os.Environ()
	for k, v := range in.environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if in.addPreviousOutputInEnv {
		if previous.stdout != "" {
			cmd.Env = append(cmd.Env, envPreviousStdout+"="+previous.stdout)
		}
		if previous.stderr != "" {
			cmd.Env = append(cmd.Env, envPreviousStderr+"="+previous.stderr)
		}
	}
	if in.stdin != nil && *in.stdin != "" {
		cmd.Stdin = strings.NewReader(*in.stdin)
	}

	var stdout, stderr bytes.Buffer
	combined := &lockedBuffer{}
	outLog, errLog := newLineWriter(logLine, in.logStdout()), newLineWriter(logLine, in.logStderr())
	cmd.Stdout = io.MultiWriter(&stdout, combined, outLog)
	cmd.Stderr = io.MultiWriter(&stderr, combined, errLog)

	err := cmd.Run()
	outLog.flush()
	errLog.flush()
	if err != nil {
		return runResult{}, fmt.Errorf("%w: running %q:\n%s", err, command, combined.String())
	}
	return runResult{
		stdout: strings.TrimSuffix(stdout.String(), "\n"),
		stderr: strings.TrimSuffix(stderr.String(), "\n"),
	}, nil
}

// lockedBuffer collects stdout and stderr in the order they arrive, for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineWriter hands complete lines to a log function; flush sends a final partial line.
type lineWriter struct {
	log     func(string)
	enabled bool
	partial []byte
}

func newLineWriter(log func(string), enabled bool) *lineWriter {
	return &lineWriter{log: log, enabled: enabled && log != nil}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if !w.enabled {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.log(strings.TrimSuffix(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	if w.enabled && len(w.partial) > 0 {
		w.log(string(w.partial))
		w.partial = nil
	}
}
