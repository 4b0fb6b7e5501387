package upload

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/courier-chat/courier/s3"
)

// Key prefixes in the bucket. A finished upload is the blob's original at
// blobPrefix+ID; tusd's bookkeeping (.info, and .part for a tail shorter
// than an S3 part) lives apart under uploadPrefix so it can be swept.
const (
	blobPrefix   = "blobs/"
	uploadPrefix = "uploads/"
)

// StorageKey is where a blob's original bytes are in the bucket.
func StorageKey(blobID string) string { return blobPrefix + blobID }

// newS3Store builds tusd's s3store on aws-sdk-go-v2 from the same settings
// the rest of Courier uses for minio-go. aws-sdk-go-v2 stays in this file.
func newS3Store(cfg s3.Config, c *Config) s3store.S3Store {
	httpClient := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}}
	client := awss3.New(awss3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: cfg.PathStyle,
		HTTPClient:   httpClient,
		// Recent SDKs add CRC32 trailers to every upload by default; many
		// S3-compatible servers reject those, and S3 needs none here.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	st := s3store.New(cfg.Bucket, client)
	st.ObjectPrefix = blobPrefix
	st.MetadataObjectPrefix = uploadPrefix
	st.TemporaryDirectory = c.TempDir
	st.PreferredPartSize = c.PartSize
	st.MinPartSize = 5 << 20
	st.MaxBufferedParts = c.BufferedParts
	// Parts in flight per process, across all uploads; with BufferedParts
	// this bounds open part files, not memory (parts are files).
	st.SetConcurrentPartUploads(16)
	return st
}
