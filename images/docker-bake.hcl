# The three runner images for `docker buildx bake` (CI). One target per language, a
# group of all three, shared args and labels in `_common`.
#
# The contexts are staged by pkgrun (`pkgrun images build` writes target/images/<lang>:
# Dockerfile, the static pkgrun, workspace/pkgrun.toml and that language's packages), and
# `pkgrun images plan --json` says which targets changed, so CI bakes only those:
#
#   cargo build --release --target x86_64-unknown-linux-musl -p pkgrun
#   pkgrun images plan --json                      # which images changed
#   TAGS=dev,latest REVISION=$(git rev-parse HEAD) docker buildx bake -f images/docker-bake.hcl --push <targets>
#
# Tags: `dev` locally; CI promotes with TAGS=dev,latest. The names are what the charts'
# image.repository values name (deploy/charts/package-<lang>/values.yaml).

variable "REGISTRY" { default = "registry.local/ameide" }
variable "TAGS" { default = "dev" }
variable "VERSION" { default = "dev" }
variable "REVISION" { default = "unknown" }
variable "SOURCE" { default = "unknown" }
# Staged build contexts, relative to this file.
variable "CONTEXTS" { default = "../target/images" }
# Base image overrides (empty: the Dockerfile's BASE_IMAGE default).
variable "GO_BASE" { default = "" }
variable "PYTHON_BASE" { default = "" }
variable "TS_BASE" { default = "" }

group "default" {
  targets = ["package-publisher-go", "package-publisher-python", "package-publisher-ts"]
}

target "_common" {
  dockerfile = "Dockerfile"
  args = {
    VERSION  = VERSION
    REVISION = REVISION
    SOURCE   = SOURCE
  }
  labels = {
    "org.opencontainers.image.revision" = REVISION
    "org.opencontainers.image.version"  = VERSION
  }
  platforms = ["linux/amd64"]
}

function "tags" {
  params = [name]
  result = [for t in split(",", TAGS) : "${REGISTRY}/${name}:${t}"]
}

# Layer cache in the registry next to the images (what a CI runner without a local
# cache uses); mode=max keeps the intermediate layers too.
function "cache_from" {
  params = [name]
  result = ["type=registry,ref=${REGISTRY}/${name}:buildcache"]
}
function "cache_to" {
  params = [name]
  result = ["type=registry,ref=${REGISTRY}/${name}:buildcache,mode=max"]
}

target "package-publisher-go" {
  inherits   = ["_common"]
  context    = "${CONTEXTS}/go"
  args       = notequal(GO_BASE, "") ? { BASE_IMAGE = GO_BASE } : {}
  tags       = tags("package-publisher-go")
  cache-from = cache_from("package-publisher-go")
  cache-to   = cache_to("package-publisher-go")
}

target "package-publisher-python" {
  inherits   = ["_common"]
  context    = "${CONTEXTS}/python"
  args       = notequal(PYTHON_BASE, "") ? { BASE_IMAGE = PYTHON_BASE } : {}
  tags       = tags("package-publisher-python")
  cache-from = cache_from("package-publisher-python")
  cache-to   = cache_to("package-publisher-python")
}

target "package-publisher-ts" {
  inherits   = ["_common"]
  context    = "${CONTEXTS}/ts"
  args       = notequal(TS_BASE, "") ? { BASE_IMAGE = TS_BASE } : {}
  tags       = tags("package-publisher-ts")
  cache-from = cache_from("package-publisher-ts")
  cache-to   = cache_to("package-publisher-ts")
}
