module github.com/courier-chat/courier

go 1.26.8
