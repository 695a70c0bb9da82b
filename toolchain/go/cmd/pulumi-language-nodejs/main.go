// Command pulumi-language-nodejs is the project's own Node.js language host for the Pulumi CLI.
//
// Upstream's host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not
// served by the Go module proxy this project can reach, so this is a small, independent
// implementation of the LanguageRuntime gRPC service: enough for `pulumi preview/up/destroy/refresh`
// of TypeScript and JavaScript programs that use @pulumi/pulumi. The program itself is started
// through @pulumi/pulumi's own `cmd/run` entry point, which speaks to the engine's resource
// monitor directly. See docs/toolchain-own-tools.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is reported by GetPluginInfo and -version; the build may override it with
// -ldflags '-X main.version=...'.
var version = "3.274.1-inception"

func main() {
	// The engine starts language hosts as `pulumi-language-nodejs [--logtostderr] [-v=N]
	// [--tracing URL] ENGINE_ADDRESS`; the logging flags are registered by the logging package.
	tracingURL := flag.String("tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	runtimeName := flag.String("runtime", "nodejs", "The runtime used to run programs (only `nodejs` is supported)")
	showVersion := flag.Bool("version", false, "Print the plugin version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println(version)
		return
	}
	logging.InitLogging(false, 0, false)
	cmdutil.InitTracing("pulumi-language-nodejs", "pulumi-language-nodejs", *tracingURL)

	if *runtimeName != "nodejs" {
		cmdutil.Exit(fmt.Errorf("unsupported runtime %q: this language host only runs nodejs", *runtimeName))
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if engineAddress != "" {
		// Exit when the engine goes away.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check: %w", err))
		}
	}
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()

	host := newHost(engineAddress, *tracingURL)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}

	// The plugin protocol: the first line on stdout is the port we listen on.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}
