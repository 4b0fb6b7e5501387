//go:build tools

package courier

import (
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/disintegration/imaging"
	_ "github.com/gen2brain/heic"
	_ "github.com/gorilla/websocket"
	_ "github.com/hibiken/asynq"
	_ "github.com/hibiken/asynqmon"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/tus/tusd/v2/pkg/handler"
	_ "github.com/tus/tusd/v2/pkg/s3store"
)
