package main

import (
	"net/http"

	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/widget"
)

// mountWidget serves the customer widget at /widget/chatgate.js and, unless demo-page is
// off, the demo page at / (docs/widget.md). Kept apart from the router setup so that the
// router can change underneath without touching this.
func mountWidget(mux interface{ Handle(string, http.Handler) }, cfg config.Config) {
	widget.Register(mux, widget.Options{DemoPage: cfg.DemoPage})
}
