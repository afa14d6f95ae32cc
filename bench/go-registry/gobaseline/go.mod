module pkgrun.bench/gobaseline

go 1.21
