"""The container test's reading of docker/compose.cluster.yaml: turns each service of the
compose file into the arguments of a `podman run`, so the test runs what the compose
file says (images, host names, environment, volumes, published ports, health checks,
stop signals, start order), not a copy of it.

usage: compose_plan.py COMPOSE_FILE OUT_DIR --prefix P --network NET --subnet A.B.C
                       --image DOCKERFILE=IMAGE [--image ...]

DOCKERFILE is a Dockerfile's path from the repository root (as a service's `build`
resolves to, e.g. docker/Dockerfile): the services built from it run IMAGE. Variables
(${VAR}, ${VAR:-default}, ${VAR:?message}, ...) are taken from this process's
environment, as compose does. Writes OUT_DIR/plan.json and, per service,
OUT_DIR/run-<service>.args (the `podman run` arguments, NUL-separated); prints
"<service> <container>" per service in start order. Exits non-zero (with the reason)
on anything it would not run as compose does, or that breaks the cluster's rules:
a NATS server (built from docker/nats/Dockerfile) must publish no port.

What differs from compose, on purpose: containers are named P-<service> and named
volumes P-<volume>; a published port goes to a free port on 127.0.0.1 (plan.json
says which); service names resolve through /etc/hosts (--add-host, fixed addresses
A.B.C.11, .12, ... on the network NET, which must have the subnet A.B.C.0/24), not
podman's DNS: aardvark-dns drops queries while it reloads as containers stop, and
nats-server's shutdown then waits out the resolver's 5 s timeouts (a stop took 30 s);
bind-mounted files are copies in OUT_DIR (mode 0644, read by the
containers' non-root users); `restart:` is left out, since the test kills
containers and wants them to stay down.
"""
import argparse
import json
import os
import re
import shutil
import socket
import sys

NATS_DOCKERFILE = "docker/nats/Dockerfile"
KNOWN_KEYS = {"build", "image", "hostname", "environment", "volumes", "ports", "expose", "healthcheck",
              "restart", "stop_signal", "stop_grace_period", "depends_on", "command", "entrypoint",
              "user", "ulimits"}


def fail(message):
    sys.exit(f"compose_plan: {message}")


def interpolate(value, where):
    """Compose's variable substitution on one string."""
    def replace(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg") or ""
        current = os.environ.get(name)
        unset_or_empty = current is None or (current == "" and op and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else current
        if op in (":?", "?"):
            if unset_or_empty:
                fail(f"{where}: {name}: {arg or 'required'}")
            return current
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return current or ""
    pattern = r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
    return re.sub(pattern, replace, value)


def seconds(duration, where):
    total, rest = 0.0, str(duration)
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", rest):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}[unit]
    if not re.fullmatch(r"(\d+(\.\d+)?(h|ms|m|s|us))+", rest):
        fail(f"{where}: duration '{duration}' not understood")
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_json_with_comments(path):
    with open(path) as f:
        text = re.sub(r"(?m)^\s*//.*$", "", f.read())
    return json.loads(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("compose_file")
    parser.add_argument("out_dir")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--network", required=True)
    parser.add_argument("--subnet", required=True, help="A.B.C of the network's A.B.C.0/24")
    parser.add_argument("--image", action="append", default=[])
    args = parser.parse_args()
    try:
        import yaml
    except ImportError:
        fail("needs python3-yaml")

    compose_dir = os.path.dirname(os.path.abspath(args.compose_file))
    repo = os.path.dirname(compose_dir)
    images = dict(spec.split("=", 1) for spec in args.image)
    with open(args.compose_file) as f:
        compose = yaml.safe_load(f)  # merge keys (<<: *node) as compose reads them
    services = compose.get("services") or fail("no services")
    declared_volumes = set((compose.get("volumes") or {}).keys())

    # Start order: depends_on first.
    order, visiting = [], set()

    def visit(name):
        if name in order:
            return
        if name in visiting:
            fail(f"depends_on cycle at {name}")
        visiting.add(name)
        deps = services[name].get("depends_on") or []
        for dep in (deps.keys() if isinstance(deps, dict) else deps):
            if dep not in services:
                fail(f"{name}: depends_on names unknown service {dep}")
            visit(dep)
        order.append(name)
    for name in services:
        visit(name)

    plan = {"network": args.network, "volumes": [], "services": {}, "order": order}
    address = {name: f"{args.subnet}.{11 + i}" for i, name in enumerate(order)}
    hosts = []
    for name in order:
        hosts += ["--add-host", f"{name}:{address[name]}"]
        hostname = services[name].get("hostname", name)
        if hostname != name:
            hosts += ["--add-host", f"{hostname}:{address[name]}"]
    for name in order:
        svc, where = services[name], f"service {name}"
        unknown = set(svc) - KNOWN_KEYS
        if unknown:
            fail(f"{where}: keys the test does not translate: {sorted(unknown)}")
        build = svc.get("build")
        if not build:
            fail(f"{where}: no build section (the test runs only images it builds)")
        if isinstance(build, str):
            build = {"context": build}
        context = os.path.normpath(os.path.join(compose_dir, build.get("context", ".")))
        dockerfile = os.path.relpath(os.path.normpath(os.path.join(context, build.get("dockerfile", "Dockerfile"))), repo)
        if dockerfile not in images:
            fail(f"{where}: built from {dockerfile}, for which no --image was given")
        role = "nats" if dockerfile == NATS_DOCKERFILE else "service"
        container = f"{args.prefix}-{name}"
        hostname = svc.get("hostname", name)
        run = ["-d", "--name", container, "--hostname", hostname,
               "--network", args.network, "--ip", address[name], "--network-alias", name] + hosts

        environment = svc.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(e.split("=", 1) if "=" in e else (e, os.environ.get(e)) for e in environment)
        env = {}
        for key, value in environment.items():
            value = "" if value is None else interpolate(str(value), f"{where}: environment {key}")
            env[key] = value
            run += ["-e", f"{key}={value}"]

        for spec in svc.get("volumes") or []:
            if not isinstance(spec, str):
                fail(f"{where}: long-form volume {spec} not translated")
            parts = interpolate(spec, f"{where}: volume").split(":")
            source, target, mode = parts[0], parts[1], (parts[2] if len(parts) > 2 else "")
            if source.startswith((".", "/")):
                path = os.path.normpath(os.path.join(compose_dir, source))
                if not os.path.isfile(path):
                    fail(f"{where}: bind mount {source}: only files are translated")
                copy = os.path.join(args.out_dir, f"{name}-{os.path.basename(path)}")
                shutil.copyfile(path, copy)
                os.chmod(copy, 0o644)
                source = copy
            else:
                if source not in declared_volumes:
                    fail(f"{where}: volume {source} not declared under volumes:")
                source = f"{args.prefix}-{source}"
                if source not in plan["volumes"]:
                    plan["volumes"].append(source)
            run += ["-v", ":".join([source, target] + ([mode] if mode else []))]

        ports = {}
        for spec in svc.get("ports") or []:
            parts = str(spec).split(":")
            if len(parts) not in (2, 3):
                fail(f"{where}: port {spec} not translated (want HOST:CONTAINER)")
            host, inside = int(parts[-2]), parts[-1]
            test_port = free_port()
            ports[inside] = {"compose": host, "test": test_port}
            run += ["-p", f"127.0.0.1:{test_port}:{inside}"]
        if role == "nats" and ports:
            fail(f"{where}: a NATS server publishes ports {svc.get('ports')}: never (README)")

        health = svc.get("healthcheck")
        if health:
            test = health.get("test")
            if health.get("disable") or test in (["NONE"], "NONE"):
                run += ["--no-healthcheck"]
            else:
                if isinstance(test, list) and test[0] == "CMD":
                    run += ["--health-cmd", json.dumps(test[1:])]
                elif isinstance(test, list) and test[0] == "CMD-SHELL":
                    run += ["--health-cmd", test[1]]
                elif isinstance(test, str):
                    run += ["--health-cmd", test]
                else:
                    fail(f"{where}: healthcheck test {test} not translated")
                for key, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                                  ("start_period", "--health-start-period")):
                    if key in health:
                        seconds(health[key], f"{where}: healthcheck {key}")
                        run += [flag, str(health[key])]
                if "retries" in health:
                    run += ["--health-retries", str(int(health["retries"]))]
        if "stop_signal" in svc:
            run += ["--stop-signal", svc["stop_signal"]]
        stop_timeout = int(seconds(svc.get("stop_grace_period", "10s"), f"{where}: stop_grace_period"))
        run += ["--stop-timeout", str(stop_timeout)]
        if "user" in svc:
            run += ["--user", str(svc["user"])]
        for limit, value in (svc.get("ulimits") or {}).items():
            value = f"{value['soft']}:{value['hard']}" if isinstance(value, dict) else str(value)
            run += ["--ulimit", f"{limit}={value}"]
        if "entrypoint" in svc:
            entry = svc["entrypoint"]
            run += ["--entrypoint", json.dumps(entry) if isinstance(entry, list) else entry]
        run.append(images[dockerfile])
        command = svc.get("command")
        if command is not None:
            run += command if isinstance(command, list) else command.split()

        with open(os.path.join(args.out_dir, f"run-{name}.args"), "wb") as f:
            f.write(b"".join(a.encode() + b"\0" for a in run))
        plan["services"][name] = {
            "container": container, "role": role, "hostname": hostname, "environment": env,
            "ports": ports, "stop_timeout": stop_timeout, "stop_signal": svc.get("stop_signal", "SIGTERM"),
            "image": images[dockerfile]}

    # The cluster's rules, checked on what compose would run.
    nats_names = {n for n, s in plan["services"].items() if s["role"] == "nats"}
    nodes = [n for n, s in plan["services"].items() if s["role"] == "service"]
    if len(nats_names) < 3 or len(nodes) < 2:
        fail(f"want three NATS servers and several service nodes, got {sorted(nats_names)} and {nodes}")
    for name in nodes:
        svc = services[name]
        config_mounts = [v for v in svc.get("volumes") or [] if ":/etc/happy-dashboard/config.json" in v]
        if len(config_mounts) != 1:
            fail(f"service {name}: mounts no config at /etc/happy-dashboard/config.json")
        config = read_json_with_comments(os.path.join(compose_dir, config_mounts[0].split(":")[0]))
        nats = config.get("nats") or fail(f"service {name}: its config has no nats section")
        if "cluster" in config:
            fail(f"service {name}: its config still has a cluster section")
        hosts = sorted(re.match(r"^(?:nats|tls)://([^:/]+)", s).group(1) for s in nats["servers"])
        if hosts != sorted(nats_names):
            fail(f"service {name}: nats.servers name {hosts}, the compose file runs {sorted(nats_names)}")
        for key in ("password_env", "token_env"):
            if key in nats and not plan["services"][name]["environment"].get(nats[key]):
                fail(f"service {name}: nats.{key} names {nats[key]}, which the compose file does not set")
        plan["services"][name]["nats"] = {k: v for k, v in nats.items() if k != "password"}

    with open(os.path.join(args.out_dir, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1)
    for name in order:
        print(name, plan["services"][name]["container"])


if __name__ == "__main__":
    main()
