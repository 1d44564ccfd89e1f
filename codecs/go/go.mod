module github.com/polybridge/polybridge/codecs/go

go 1.22
