package testenv

// S3Server is one S3 implementation tests can run against. Courier must
// work unchanged on any of them; scripts/services.sh starts both.
type S3Server struct {
	Name     string
	Endpoint string
}

// DefaultMinIOEndpoint is where scripts/services.sh starts MinIO.
const DefaultMinIOEndpoint = "http://127.0.0.1:17100"

// S3Servers lists the S3 servers of the test suite: versitygw (the default
// one, S3Config) and MinIO (COURIER_TEST_MINIO_ENDPOINT), both with the
// same keys.
func S3Servers() []S3Server {
	return []S3Server{
		{Name: "versitygw", Endpoint: S3Config("").Endpoint},
		{Name: "minio", Endpoint: Env(DefaultMinIOEndpoint, "COURIER_TEST_MINIO_ENDPOINT")},
	}
}
