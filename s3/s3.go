// Package s3 is Courier's one object-store adapter: every object operation
// outside tusd goes through it, on minio-go, against any S3 API (AWS S3,
// MinIO, versitygw, SeaweedFS). Storage keys never leave the server.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/courier-chat/courier"
)

// Config says where the bucket is and how to reach it.
type Config struct {
	// Endpoint is the S3 base URL, e.g. "http://127.0.0.1:7070" or
	// "https://s3.eu-west-1.amazonaws.com". Default "http://127.0.0.1:7070".
	Endpoint string
	// Region of the bucket. Default "us-east-1".
	Region string
	// AccessKey and SecretKey are static credentials.
	AccessKey, SecretKey string
	// Bucket holds every object Courier writes. Default "courier".
	Bucket string
	// PathStyle selects path-style addressing (http://host/bucket/key), which
	// local S3 servers need. Default true.
	PathStyle bool
}

// Validate checks the settings and names the bad one.
func (c Config) Validate() error {
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("s3 endpoint %q: want http(s)://host[:port]", c.Endpoint)
	}
	if c.Bucket == "" {
		return errors.New("s3 bucket: empty")
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return errors.New("s3 access key and secret key: both are required")
	}
	return nil
}

// Client reads and writes objects in one bucket.
type Client struct {
	mc     *minio.Client
	bucket string
	region string
}

// New returns a client for cfg. It does not contact the server; see
// EnsureBucket and Ping.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.Endpoint)
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %q: %w", cfg.Endpoint, err)
	}
	return &Client{mc: mc, bucket: cfg.Bucket, region: cfg.Region}, nil
}

// Bucket returns the bucket name.
func (c *Client) Bucket() string { return c.bucket }

// EnsureBucket creates the bucket when it is missing. Errors name the bucket
// and what failed, so a missing permission is obvious at start.
func (c *Client) EnsureBucket(ctx context.Context) error {
	ok, err := c.mc.BucketExists(ctx, c.bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %q: check existence at %s: %w", c.bucket, c.mc.EndpointURL(), err)
	}
	if ok {
		return nil
	}
	err = c.mc.MakeBucket(ctx, c.bucket, minio.MakeBucketOptions{Region: c.region})
	if err != nil {
		// Another node may have created it between our check and create.
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("s3 bucket %q: create at %s: %w", c.bucket, c.mc.EndpointURL(), err)
	}
	return nil
}

// Ping checks that the bucket answers; used by /readyz.
func (c *Client) Ping(ctx context.Context) error {
	ok, err := c.mc.BucketExists(ctx, c.bucket)
	if err != nil {
		return outage(err)
	} else if !ok {
		return fmt.Errorf("bucket %q does not exist", c.bucket)
	}
	return nil
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ETag        string
	ContentType string
}

// Put stores size bytes from r at key. A size of -1 streams with multipart.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (ObjectInfo, error) {
	info, err := c.mc.PutObject(ctx, c.bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return ObjectInfo{}, outage(fmt.Errorf("s3 put %s: %w", key, err))
	}
	return ObjectInfo{Key: key, Size: info.Size, ETag: info.ETag, ContentType: contentType}, nil
}

// Stat returns an object's metadata, or ENOTFOUND.
func (c *Client) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	st, err := c.mc.StatObject(ctx, c.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, mapErr(key, err)
	}
	return ObjectInfo{Key: key, Size: st.Size, ETag: strings.Trim(st.ETag, `"`), ContentType: st.ContentType}, nil
}

// Get streams an object; with length > 0 only bytes [offset, offset+length).
// The caller closes the reader. Memory stays bounded: bytes are streamed.
func (c *Client) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if length > 0 {
		if err := opts.SetRange(offset, offset+length-1); err != nil {
			return nil, courier.Errorf(courier.EINVALID, "bad range")
		}
	}
	// GetObject is lazy; the Core API makes the request now, so a missing
	// object is an error here instead of on first Read.
	core := minio.Core{Client: c.mc}
	body, _, _, err := core.GetObject(ctx, c.bucket, key, opts)
	if err != nil {
		return nil, mapErr(key, err)
	}
	return body, nil
}

// Remove deletes an object; removing a missing object is not an error.
func (c *Client) Remove(ctx context.Context, key string) error {
	if err := c.mc.RemoveObject(ctx, c.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return mapErr(key, err)
	}
	return nil
}

// RemovePrefix deletes every object whose key starts with prefix.
func (c *Client) RemovePrefix(ctx context.Context, prefix string) error {
	objects := c.mc.ListObjects(ctx, c.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	for obj := range objects {
		if obj.Err != nil {
			return outage(fmt.Errorf("s3 list %s: %w", prefix, obj.Err))
		}
		if err := c.Remove(ctx, obj.Key); err != nil {
			return err
		}
	}
	return nil
}

// Keys lists the keys under prefix, for tests and cleanup jobs.
func (c *Client) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for obj := range c.mc.ListObjects(ctx, c.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, outage(fmt.Errorf("s3 list %s: %w", prefix, obj.Err))
		}
		keys = append(keys, obj.Key)
	}
	return keys, nil
}

// Minio exposes the underlying client for the few operations this package
// does not wrap (multipart cleanup of abandoned tus uploads).
func (c *Client) Minio() *minio.Client { return c.mc }

func mapErr(key string, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NotFound":
		return courier.Errorf(courier.ENOTFOUND, "object not found")
	case "InvalidRange":
		return courier.Errorf(courier.EINVALID, "range not satisfiable")
	}
	return outage(fmt.Errorf("s3 %s: %w", key, err))
}

// outage turns a failure to reach the S3 service (refused or dropped
// connection, timeout, a 5xx answer such as 503 SlowDown) into
// courier.Unavailable("storage", …): clients are told to retry, not shown
// an internal error.
func outage(err error) error {
	var ne net.Error
	var ce *courier.Error
	switch {
	case err == nil || errors.As(err, &ce):
		return err
	case minio.ToErrorResponse(err).StatusCode >= 500, errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, context.DeadlineExceeded):
		return courier.Unavailable("storage", err)
	}
	return err
}
