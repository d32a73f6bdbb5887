package ssh

import (
	"context"
	"testing"
)

// TestSettlesAfterLoss checks the rule that lets a call answered just before the connection
// ended return its answer: only a lost connection waits, it waits for the call, and a ctx
// that ends stops the wait.
func TestSettlesAfterLoss(t *testing.T) {
	lost := &Channel{c: &conn{done: make(chan struct{})}}
	close(lost.c.done)
	alive := &Channel{c: &conn{done: make(chan struct{})}}

	answered := make(chan struct{})
	go close(answered) // the call's goroutine returns after the loss was seen
	if !lost.settlesAfterLoss(context.Background(), answered) {
		t.Error("a call that returns after the loss does not settle")
	}
	if alive.settlesAfterLoss(context.Background(), answered) {
		t.Error("a live connection settled: the wait ended for another reason (ctx, Close) and must say so")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if lost.settlesAfterLoss(ctx, make(chan struct{})) {
		t.Error("a call that never returns settled")
	}
}
