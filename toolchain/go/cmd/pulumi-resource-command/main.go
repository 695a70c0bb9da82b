// Command pulumi-resource-command is the project's own resource provider plugin for the
// `command` package: the local Command resource (`command:local:Command`) and the local run
// function (`command:local:run`), as the @pulumi/command 1.2.1 Node.js SDK uses them.
//
// Upstream's provider (module github.com/pulumi/pulumi-command/provider) is not served by the Go
// module proxy this project can reach, so this is a small, independent implementation on the
// plain provider gRPC protocol of github.com/pulumi/pulumi/sdk/v3. Remote commands (SSH), asset
// and archive outputs are not implemented. See docs/toolchain-own-tools.md.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set by the build: -ldflags '-X main.version=1.2.1'.
var version = "0.0.0-dev"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(version)
		return
	}
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		p := newProvider(version)
		if host != nil {
			// Command output goes to the engine as status messages of the resource, shown in
			// the progress display while the command runs.
			p.log = func(ctx context.Context, urn string, msg string) {
				_ = host.LogStatus(ctx, diag.Info, resource.URN(urn), msg)
			}
		}
		return p, nil
	})
	if err != nil {
		cmdutil.ExitError(err.Error())
	}
}
