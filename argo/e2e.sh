#!/usr/bin/env bash
# Drover's cluster path, end to end, on a throwaway kind (or k3d) cluster — one command:
#
#   bash argo/e2e.sh                      # kind; DROVER_E2E_TOOL=k3d for k3d
#
# Needs: docker, kind (or k3d), kubectl, curl, git, and this repository installed with its test
# extras (pip install -e '.[dev]'). Network: Argo's release manifest (GitHub) and its images,
# Postgres and MinIO images (Docker Hub / quay.io) and the base images of Drover's own.
#
# What it does, each step as argo/README.md's walk-through tells a user to:
#  1. creates the cluster (kept when it exists);
#  2. installs Argo Workflows (the server in plain HTTP with client auth);
#  3. builds Drover's images (`drover images build`) and loads them into the cluster;
#  4. applies argo/overlays/local (namespace, RBAC, Postgres, MinIO, the facade, controller config);
#  5. runs `drover doctor` in the facade's pod (its settings, its service account);
#  6. serves the shop example's sources from a git daemon in the cluster (a project on a
#     cluster comes from a repository, never from a path on this machine);
#  7. runs `pytest -m on_cluster tests/on_cluster`: the shop example through Drover's API, then
#     retried and resubmitted from the Argo Server, with the mirror's counts asserted.
# The cluster is deleted at the end unless DROVER_E2E_KEEP=1 (or it existed before).
set -euo pipefail
cd "$(dirname "$0")/.."

TOOL=${DROVER_E2E_TOOL:-kind}
CLUSTER=${DROVER_E2E_CLUSTER:-drover-e2e}
ARGO_VERSION=${ARGO_VERSION:-v4.1.2}
KEEP=${DROVER_E2E_KEEP:-0}
NS=drover
PYTHON=${PYTHON:-python3}

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'e2e: %s\n' "$*" >&2; exit 1; }

for tool in docker "$TOOL" kubectl curl git "$PYTHON"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (see the top of $0)"
done
command -v drover >/dev/null 2>&1 || die "drover is not on PATH: pip install -e '.[dev]' first"
[ "$TOOL" = kind ] || [ "$TOOL" = k3d ] || die "DROVER_E2E_TOOL must be kind or k3d, not $TOOL"
VERSION_TAG=$("$PYTHON" -c 'from engine.images import image_tag, package_version; print(image_tag(package_version()))')
AGENT_IMAGE=drover-agent:$VERSION_TAG

work=$(mktemp -d)
forwards=()
created=0
cleanup() {
    for pid in "${forwards[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
    if [ "$created" = 1 ] && [ "$KEEP" != 1 ]; then
        say "deleting cluster $CLUSTER (DROVER_E2E_KEEP=1 keeps it)"
        if [ "$TOOL" = kind ]; then kind delete cluster --name "$CLUSTER"; else k3d cluster delete "$CLUSTER"; fi
    fi
}
trap cleanup EXIT

say "1. cluster $CLUSTER ($TOOL)"
if [ "$TOOL" = kind ]; then
    if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
        kind create cluster --name "$CLUSTER" --wait 180s
        created=1
    fi
    kubectl config use-context "kind-$CLUSTER"
else
    if ! k3d cluster list "$CLUSTER" >/dev/null 2>&1; then
        k3d cluster create "$CLUSTER" --wait
        created=1
    fi
    kubectl config use-context "k3d-$CLUSTER"
fi

say "2. Argo Workflows $ARGO_VERSION (server: plain HTTP, client auth)"
kubectl create namespace argo --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n argo --server-side --force-conflicts -f \
    "https://github.com/argoproj/argo-workflows/releases/download/$ARGO_VERSION/install.yaml"
kubectl -n argo patch deployment argo-server --type json -p '[
  {"op": "replace", "path": "/spec/template/spec/containers/0/args",
   "value": ["server", "--auth-mode=client", "--secure=false"]},
  {"op": "replace", "path": "/spec/template/spec/containers/0/readinessProbe/httpGet/scheme",
   "value": "HTTP"}]'

say "3. Drover's images ($AGENT_IMAGE, drover:$VERSION_TAG as drover:dev for the overlay)"
drover images build
docker tag "drover:$VERSION_TAG" drover:dev
if [ "$TOOL" = kind ]; then
    kind load docker-image "$AGENT_IMAGE" drover:dev --name "$CLUSTER"
else
    k3d image import "$AGENT_IMAGE" drover:dev -c "$CLUSTER"
fi

say "4. argo/overlays/local"
kubectl apply -k argo/overlays/local
kubectl -n argo rollout restart deployment workflow-controller
kubectl -n argo rollout status deployment/workflow-controller --timeout=300s
kubectl -n argo rollout status deployment/argo-server --timeout=300s
kubectl -n "$NS" rollout status statefulset/drover-postgres --timeout=300s
kubectl -n "$NS" rollout status deployment/drover-api --timeout=300s

forward() {  # forward <namespace> <service> <local port> <remote port>
    kubectl -n "$1" port-forward "svc/$2" "$3:$4" >"$work/forward-$2.log" 2>&1 &
    forwards+=("$!")
    for _ in $(seq 1 60); do
        curl -s -o /dev/null "http://127.0.0.1:$3/" && return 0
        sleep 1
    done
    die "port-forward to $2 did not come up: $(cat "$work/forward-$2.log")"
}
forward argo argo-server 2746 2746
forward "$NS" drover-api 8000 8000

export ARGO_SERVER=http://127.0.0.1:2746 ARGO_NAMESPACE=$NS
ARGO_TOKEN=$(kubectl -n "$NS" get secret drover-api-token -o jsonpath='{.data.token}' | base64 -d)
export ARGO_TOKEN

say "5. drover doctor, in the facade's pod (its own settings and service account)"
kubectl -n "$NS" exec deploy/drover-api -- drover doctor

say "6. the shop example's sources, served by git daemon in the cluster"
git init -q -b main "$work/shop"
cp -R examples/shop/. "$work/shop/"
rm -rf "$work/shop/.pytest_cache" "$work/shop/__pycache__"
git -C "$work/shop" add -A
git -C "$work/shop" -c user.name=e2e -c user.email=e2e@drover.invalid commit -qm shop
git -C "$work/shop" bundle create "$work/shop.bundle" HEAD main
kubectl -n "$NS" create configmap drover-e2e-shop --from-file=shop.bundle="$work/shop.bundle" \
    --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NS" apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: drover-e2e-git}
spec:
  selector: {matchLabels: {app: drover-e2e-git}}
  template:
    metadata: {labels: {app: drover-e2e-git}}
    spec:
      containers:
        - name: git
          image: $AGENT_IMAGE
          imagePullPolicy: IfNotPresent
          command: [sh, -c]
          args:
            - git clone -q --bare /bundle/shop.bundle /srv/shop.git &&
              exec git daemon --reuseaddr --export-all --base-path=/srv /srv
          ports: [{containerPort: 9418}]
          volumeMounts: [{name: bundle, mountPath: /bundle}]
      volumes: [{name: bundle, configMap: {name: drover-e2e-shop}}]
---
apiVersion: v1
kind: Service
metadata: {name: drover-e2e-git}
spec:
  selector: {app: drover-e2e-git}
  ports: [{port: 9418, targetPort: 9418}]
EOF
kubectl -n "$NS" rollout status deployment/drover-e2e-git --timeout=120s

say "7. the journey: pytest -m on_cluster tests/on_cluster"
DROVER_E2E_TOKEN=$(kubectl -n "$NS" exec deploy/drover-api -- drover token create --name e2e | tail -1)
export DROVER_E2E_TOKEN DROVER_E2E_API=http://127.0.0.1:8000
export DROVER_E2E_REPO=git://drover-e2e-git.$NS.svc.cluster.local/shop.git
"$PYTHON" -m pytest -m on_cluster tests/on_cluster -v -p no:cacheprovider
say "the cluster path works end to end"
