package sftp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"sync"
)

// treeOp is one step of a Recursive copy.
type treeOp struct {
	kind     treeKind
	src, dst string
	info     entry  // the source's metadata (a followed link's target's, for SymlinksFollow)
	link     string // the link's target text, for treeLink
}

type treeKind int

const (
	treeDir treeKind = iota
	treeFile
	treeLink
)

// copyTree copies the directory from (listed as info) to target. It lists the whole tree
// first, so that Progress knows the total, then creates directories before their contents,
// copies files and links in listing order, and sets directory attributes last, deepest first,
// because writing into a directory changes its modification time.
func (t *transfer) copyTree(ctx context.Context, from string, info entry, target string) error {
	ops := []treeOp{{kind: treeDir, src: from, dst: target, info: info}}
	if err := t.plan(ctx, from, target, &ops); err != nil {
		return err
	}
	var total int64
	for _, op := range ops {
		if op.kind == treeFile {
			total += min(op.info.size, math.MaxInt64-total) // sizes come from the server
		}
	}
	t.prog.total = total
	t.prog.report()

	for _, op := range ops {
		if op.kind != treeDir {
			continue
		}
		if err := ctx.Err(); err != nil {
			return t.fail(op.src, -1, err)
		}
		if err := t.makeDir(ctx, op); err != nil {
			return t.fail(op.src, -1, err)
		}
	}
	if err := t.copyEntries(ctx, ops); err != nil {
		return err
	}
	if t.cfg.preserveMode || t.cfg.preserveTime {
		for _, op := range slices.Backward(ops) {
			if op.kind != treeDir {
				continue
			}
			if err := t.setAttrs(ctx, op.info, op.dst); err != nil {
				return t.fail(op.src, -1, err)
			}
		}
	}
	return nil
}

// copyEntries copies the files and links of ops, several small files at a time: a file costs
// a few round trips however small it is, and those of different files overlap. A large file
// runs alone, with the whole buffer (and its own channels). Progress is reported here, on the
// caller's goroutine; the first error stops the dispatch of further entries and is returned
// once those in progress have ended.
func (t *transfer) copyEntries(ctx context.Context, ops []treeOp) error {
	t.inTree = true
	defer func() { t.inTree = false }()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		large    sync.RWMutex // a large file holds it for writing, small ones for reading
	)
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	sem := make(chan struct{}, treeParallel)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, op := range ops {
			if op.kind == treeDir {
				continue
			}
			if failed() || ctx.Err() != nil {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if op.kind == treeFile && op.info.size > treeSmallFile {
					large.Lock()
					defer large.Unlock()
				} else {
					large.RLock()
					defer large.RUnlock()
				}
				if failed() {
					return
				}
				var err error
				if err = ctx.Err(); err == nil {
					if op.kind == treeFile {
						err = t.copyFile(ctx, op.src, op.info, op.dst)
					} else {
						err = t.makeLink(ctx, op)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = t.fail(op.src, -1, err)
					}
					mu.Unlock()
				}
			}()
		}
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case <-t.prog.poke:
			t.prog.report()
		case <-finished:
			t.prog.report()
			if firstErr == nil && ctx.Err() != nil {
				return t.fail(ops[0].src, -1, ctx.Err())
			}
			return firstErr
		}
	}
}

// plan lists the directory from, depth first in listing order, appending what to do.
func (t *transfer) plan(ctx context.Context, from, to string, ops *[]treeOp) error {
	entries, err := t.src.readDir(ctx, from)
	if err != nil {
		return t.fail(from, -1, err)
	}
	if len(*ops)+len(entries) > maxTreeEntries {
		return t.fail(from, -1, fmt.Errorf("%w (more than %d)", ErrTreeTooLarge, maxTreeEntries))
	}
	for _, e := range entries {
		if e.name == "." || e.name == ".." {
			continue
		}
		if !safeName(e.name) {
			return t.fail(from, -1, fmt.Errorf("%w: %q", ErrUnsafeName, e.name))
		}
		src, dst := t.src.join(from, e.name), t.dst.join(to, e.name)
		switch {
		case e.mode.IsDir():
			*ops = append(*ops, treeOp{kind: treeDir, src: src, dst: dst, info: e})
			if err := t.plan(ctx, src, dst, ops); err != nil {
				return err
			}
		case e.mode.IsRegular() && e.size < 0:
			return t.fail(src, -1, fmt.Errorf("%w: no valid size (%d)", ErrNotRegular, e.size))
		case e.mode.IsRegular():
			*ops = append(*ops, treeOp{kind: treeFile, src: src, dst: dst, info: e})
		case e.mode&fs.ModeSymlink != 0:
			switch t.cfg.symlinks {
			case SymlinksFollow:
				fi, err := t.src.stat(ctx, src)
				if err == nil && fi.mode.IsRegular() && fi.size >= 0 {
					*ops = append(*ops, treeOp{kind: treeFile, src: src, dst: dst, info: fi})
				}
			case SymlinksCopy:
				target, err := t.src.readLink(ctx, src)
				if err != nil {
					return t.fail(src, -1, err)
				}
				*ops = append(*ops, treeOp{kind: treeLink, src: src, dst: dst, info: e, link: target})
			}
		}
	}
	return nil
}

// makeDir creates op.dst, or accepts an existing directory there.
func (t *transfer) makeDir(ctx context.Context, op treeOp) error {
	err := t.dst.mkdir(ctx, op.dst, op.info.mode.Perm()|0o700)
	if err == nil {
		return nil
	}
	// SFTP v3 has no "exists" status (sftp-server answers SSH_FX_FAILURE), so look.
	if fi, serr := t.dst.stat(ctx, op.dst); serr == nil {
		if fi.mode.IsDir() {
			return nil
		}
		return fmt.Errorf("%s exists and is not a directory: %w", op.dst, fs.ErrExist)
	}
	return err
}

// makeLink recreates a symbolic link, replacing a link or file of that name.
func (t *transfer) makeLink(ctx context.Context, op treeOp) error {
	if fi, err := t.dst.lstat(ctx, op.dst); err == nil {
		if fi.mode.IsDir() {
			return fmt.Errorf("%s exists and is a directory: %w", op.dst, fs.ErrExist)
		}
		if err := t.dst.remove(ctx, op.dst); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return t.dst.symlink(ctx, op.link, op.dst)
}
