package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/transfer"
)

// writeArchive turns a staged bundle (large blobs still external) into the
// packed archive: signed first when a key is given (every digest the
// signature covers is verified before the archive is kept), then packed
// with room left for the external blobs, which are fetched in parallel and
// written at their place, each hashed on the way. The archive appears
// whole, under its name, or not at all.
func writeArchive(ctx context.Context, stage *layout.Staging, late []transfer.Job, signer *keys.Signer, opts CreateOptions, log *slog.Logger) (transfer.Stats, error) {
	if signer != nil {
		if err := signStaged(ctx, stage.Dir, signer, opts, log); err != nil {
			return transfer.Stats{}, err
		}
	}
	// What a create or pack of this archive killed before its end left.
	if err := layout.RemoveStaleOutput(opts.Output); err != nil {
		return transfer.Stats{}, err
	}
	// Open (so locked) until it has taken its name.
	tmp, err := layout.CreateTemp(opts.Output)
	if err != nil {
		return transfer.Stats{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	stats, err := fillArchive(ctx, stage, late, tmp, opts)
	if err != nil {
		err = layout.OutOfRoom(opts.Output, adviceOnePass, err)
		if full := (*layout.NoSpaceError)(nil); errors.As(err, &full) && !full.Inodes {
			// What the medium took before it was full is what one holds,
			// as pack says: the archive's blocks (not its size, which
			// counts the holes not yet filled) and its staging's beside it.
			full.Took = layout.Allocated(tmp.Name(), stage.Dir.Path())
		}
		return stats, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return stats, err
	}
	return stats, placeFile(tmp.Name(), opts.Output, opts.Force)
}

// fillArchive packs the staged bundle into tmp, leaving holes for the late
// blobs, then fetches each into its hole.
func fillArchive(ctx context.Context, stage *layout.Staging, late []transfer.Job, tmp *os.File, opts CreateOptions) (transfer.Stats, error) {
	_, holes, err := stage.PackWithHoles(ctx, tmp)
	if err != nil {
		return transfer.Stats{}, fmt.Errorf("pack %s: %w", opts.Output, err)
	}
	// A late blob the directory holds too was packed from its file.
	var jobs []transfer.Job
	for _, job := range late {
		if _, ok := holes[job.Desc.Digest]; ok {
			job.Dst = holeWriter{f: tmp, at: holes}
			jobs = append(jobs, job)
		}
	}
	stats, err := transfer.CopyBlobs(ctx, jobs, opts.Transfer)
	if err != nil {
		return stats, err
	}
	return stats, tmp.Sync()
}

// holeWriter writes a blob at its place in the archive, verifying it: a
// retry writes it again from its start.
type holeWriter struct {
	f  *os.File
	at map[digest.Digest]int64
}

func (h holeWriter) Push(_ context.Context, desc ocispec.Descriptor, r io.Reader) error {
	off, ok := h.at[desc.Digest]
	if !ok {
		return fmt.Errorf("blob %s has no place in the archive", desc.Digest)
	}
	w := layout.NewWritebackAt(h.f, off)
	_, err := io.CopyBuffer(w, bundle.NewVerifyReader(r, desc), make([]byte, 256<<10))
	w.Start()
	return err
}

// signStaged signs a staged bundle as sign does a directory, before its
// external blobs are fetched: the deep walk checks everything present; the
// external blobs are checked as they are written into the archive.
func signStaged(ctx context.Context, dir *layout.Dir, signer *keys.Signer, opts CreateOptions, log *slog.Logger) error {
	certs, err := signerCertificates(SignOptions{Certificate: opts.Certificate, CertificateChain: opts.CertificateChain}, signer)
	if err != nil {
		return err
	}
	md, err := readMetadata(ctx, dir.ReadFile, dir.FetchBytes)
	if err != nil {
		return err
	}
	_, reached, err := walkContent(ctx, dir, md, concurrency(opts.Transfer.Concurrency), true)
	if err != nil {
		return fmt.Errorf("refusing to sign a bundle that does not verify: %w", err)
	}
	payload, err := md.manifestBytes()
	if err != nil {
		return err
	}
	env := dsse.New(bundle.PayloadType, payload)
	if err := env.Sign(ctx, signer); err != nil {
		return err
	}
	data, err := env.Marshal()
	if err != nil {
		return err
	}
	if _, err := signBundle(ctx, dir, md, reached, env, data, signer, certs, opts.Created); err != nil {
		return err
	}
	log.Info("bundle signed", "keyid", signer.KeyID())
	return nil
}
