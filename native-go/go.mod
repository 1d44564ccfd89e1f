module github.com/polybridge/polybridge/native-go

go 1.25

require (
	github.com/lirm/aeron-go v0.0.0-20240606170339-8b05ad14e456
	github.com/polybridge/polybridge/codecs/go v0.0.0
)

replace github.com/polybridge/polybridge/codecs/go => ../codecs/go
