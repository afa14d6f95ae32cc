module example.com/m
go 1.21
toolchain go1.22.0
godebug default=go1.21
tool example.com/t
ignore ./x
