module github.com/optout-dev/optout

go 1.26.8
