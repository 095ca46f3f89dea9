package generator

import (
	"context"
	"fmt"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// safely runs f, which calls into a library (kin-openapi, oapi-codegen), and
// turns a panic in it into an error at the place that at returns. Such a
// panic is a bug for gatehouse to work around, not something the user should
// debug from a goroutine dump; the message says so in one sentence. The
// place is only looked up then: locating may parse the spec file again.
func safely(what string, at func() spec.Pos, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = spec.Errorf(at(), "internal error: %s failed on this spec (%s); please report it with the spec to gatehouse, and meanwhile look for an empty or unusual construct", what, firstLine(fmt.Sprint(r)))
		}
	}()
	return f()
}

// docStart returns the place of doc's start, for safely.
func docStart(doc *spec.Doc) func() spec.Pos {
	return func() spec.Pos { return doc.Locate() }
}

// load reads and models the spec, with library panics turned into errors.
func load(ctx context.Context, specPath string) (doc *spec.Doc, api *model.API, err error) {
	err = safely("loading", func() spec.Pos { return spec.Pos{File: specPath} }, func() error {
		doc, err = spec.Load(ctx, specPath)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	err = safely("reading the security requirements", docStart(doc), func() error {
		api, err = model.Build(doc, model.Options{})
		return err
	})
	return doc, api, err
}

// valid runs doc.Valid, a library panic counting as not valid (validate
// then tells what it is).
func valid(ctx context.Context, doc *spec.Doc) (ok bool) {
	_ = safely("validation", docStart(doc), func() error {
		ok = doc.Valid(ctx)
		return nil
	})
	return ok
}

// validate runs the spec's validation, a library panic becoming a notice.
func validate(ctx context.Context, doc *spec.Doc) (notice string) {
	err := safely("validation", docStart(doc), func() error {
		notice = doc.Validate(ctx)
		return nil
	})
	if err != nil {
		return err.Error()
	}
	return notice
}

// background runs f in a goroutine and returns a function that waits for
// its result (see recovered).
func background[T any](f func() (T, error)) func() (T, error) {
	var (
		v    T
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		v, err = recovered(f)
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}

// recovered calls f and returns a panic in it as an error (an internal
// one: a caller that can locate it runs f under safely), for code that
// runs f on a goroutine of its own, where a panic would end the process.
func recovered[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %s", firstLine(fmt.Sprint(r)))
		}
	}()
	return f()
}
