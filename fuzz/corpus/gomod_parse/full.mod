module example.com/m

go 1.21

require (
	example.com/a v1.0.0 // indirect
	example.com/b v0.0.0-20200101000000-abcdefabcdef
)

replace example.com/a => ../a

exclude example.com/c v1.2.3
retract [v1.0.0, v1.1.0] // bad
