// A go-plugin server for tests/go_plugin.rs: HashiCorp's go-plugin library (Debian's
// golang-github-hashicorp-go-plugin-dev), the one every Go Terraform provider serves through,
// with automatic mTLS and protocol version 6, but no tfplugin6 service: it shows that Baton's
// client completes the handshake, the TLS (go-plugin's P-521 certificates, pinned) and the
// controller's Shutdown with the real library. It must not do anything else.
package main

import (
	"context"
	"fmt"
	"os"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

type provider struct{ plugin.NetRPCUnsupportedPlugin }

func (provider) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }

func (provider) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, nil
}

func main() {
	fmt.Fprintln(os.Stderr, "go-plugin test server starting")
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			MagicCookieKey:   "TF_PLUGIN_MAGIC_COOKIE",
			MagicCookieValue: "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
		},
		VersionedPlugins: map[int]plugin.PluginSet{6: {"provider": provider{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
