module github.com/optout-dev/optout

go 1.26.8

require (
	github.com/nyaruka/gocommon v1.83.0 // indirect
	github.com/nyaruka/goflow v0.277.3 // indirect
	github.com/nyaruka/phonenumbers/v2 v2.0.2 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	golang.org/x/text v0.35.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
