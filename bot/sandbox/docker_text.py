"""What the Docker CLI and the rootless daemon print, for the simulated commands."""

from __future__ import annotations

CLIENT_VERSION = """Client:
 Version:           27.3.1
 API version:       1.47
 Go version:        go1.22.7
 Git commit:        ce12230
 Built:             Fri Sep 20 11:39:44 2024
 OS/Arch:           linux/amd64
 Context:           default
"""

SERVER_VERSION = """
Server: Docker Engine - Community
 Engine:
  Version:          27.3.1
  API version:      1.47 (minimum version 1.24)
  Go version:       go1.22.7
  Git commit:       41ca978
  Built:            Fri Sep 20 11:41:11 2024
  OS/Arch:          linux/amd64
  Experimental:     false
 containerd:
  Version:          v1.7.22
  GitCommit:        7f7fdf5fed64eb6a7caf99b3e12efcf9d60e311c
 runc:
  Version:          1.1.14
  GitCommit:        v1.1.14-0-g2c9f560
 docker-init:
  Version:          0.19.0
  GitCommit:        de40ad0
 rootlesskit:
  Version:          2.3.1
  ApiVersion:       1.1.1
  NetworkDriver:    slirp4netns
  PortDriver:       builtin
  StateDir:         /run/user/1000/dockerd-rootless
"""

CLIENT_INFO = """Client: Docker Engine - Community
 Version:    27.3.1
 Context:    default
 Debug Mode: false
 Plugins:
  buildx: Docker Buildx (Docker Inc.)
    Version:  v0.17.1
    Path:     /usr/libexec/docker/cli-plugins/docker-buildx
  compose: Docker Compose (Docker Inc.)
    Version:  v2.29.7
    Path:     /usr/libexec/docker/cli-plugins/docker-compose
"""

SERVER_INFO = """
Server:
 Containers: 0
  Running: 0
  Paused: 0
  Stopped: 0
 Images: 1
 Server Version: 27.3.1
 Storage Driver: overlay2
  Backing Filesystem: extfs
  Supports d_type: true
  Using metacopy: false
  Native Overlay Diff: false
  userxattr: true
 Logging Driver: json-file
 Cgroup Driver: systemd
 Cgroup Version: 2
 Plugins:
  Volume: local
  Network: bridge host ipvlan macvlan null overlay
  Log: awslogs fluentd gcplogs gelf journald json-file local splunk syslog
 Swarm: inactive
 Runtimes: io.containerd.runc.v2 runc
 Default Runtime: runc
 Init Binary: docker-init
 containerd version: 7f7fdf5fed64eb6a7caf99b3e12efcf9d60e311c
 runc version: v1.1.14-0-g2c9f560
 init version: de40ad0
 Security Options:
  seccomp
   Profile: builtin
  rootless
  cgroupns
 Kernel Version: 6.1.0-26-cloud-amd64
 Operating System: Alpine Linux v3.20 (containerized)
 OSType: linux
 Architecture: x86_64
 CPUs: 4
 Total Memory: 15.62GiB
 Name: {pod}
 ID: 3b1f6c0e-6f5e-4d44-9c9b-4c1c8a6f2e7d
 Docker Root Dir: /var/lib/docker
 Debug Mode: false
 Experimental: false
 Insecure Registries:
  127.0.0.0/8
 Live Restore Enabled: false
 Product License: Community Engine
"""

HELLO_WORLD = """
Hello from Docker!
This message shows that your installation appears to be working correctly.

To generate this message, Docker took the following steps:
 1. The Docker client contacted the Docker daemon.
 2. The Docker daemon pulled the "hello-world" image from the Docker Hub.
    (amd64)
 3. The Docker daemon created a new container from that image which runs the
    executable that produces the output you are currently reading.
 4. The Docker daemon streamed that output to the Docker client, which sent it
    to your terminal.

To try something more ambitious, you can run an Ubuntu container with:
 $ docker run -it ubuntu bash

Share images, automate builds, and more with a free Docker ID:
 https://hub.docker.com/

For more examples and ideas, visit:
 https://docs.docker.com/get-started/
"""

HELLO_PULL = """Unable to find image 'hello-world:latest' locally
latest: Pulling from library/hello-world
c1ec31eb5944: Pulling fs layer
c1ec31eb5944: Verifying Checksum
c1ec31eb5944: Download complete
c1ec31eb5944: Pull complete
Digest: sha256:d211f485f2dd1dee407a80973c8f129f00d54604d2c90732e8e320e5038a0348
Status: Downloaded newer image for hello-world:latest
"""

BUILD = """#0 building with "default" instance using docker driver

#1 [internal] load build definition from {dockerfile_name}
#1 transferring dockerfile: 2.31kB done
#1 DONE 0.0s

#2 [internal] load metadata for docker.io/library/ubuntu:24.04
#2 DONE 1.2s

#3 [internal] load .dockerignore
#3 transferring context: 2B done
#3 DONE 0.0s

#4 [1/4] FROM docker.io/library/ubuntu:24.04@sha256:3f85b7caad41a95462cf5b787d8a04604c8262cd
#4 DONE 3.4s

#5 [internal] load build context
#5 transferring context: 48.20kB done
#5 DONE 0.1s

#6 [2/4] RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git curl
#6 DONE 21.7s

#7 [3/4] COPY . /workspace/lab
#7 DONE 0.3s

#8 [4/4] RUN make -C /workspace/lab setup
#8 DONE 12.9s

#9 exporting to image
#9 exporting layers 2.1s done
#9 writing image sha256:9d1c2a4b7e0f5a3c6b8d2e1f4a7c0b3d6e9f2a5c8b1d4e7f0a3c6b9d2e5f8a1b done
#9 naming to docker.io/library/{tag} done
#9 DONE 2.2s
"""


def cannot_connect(host: str) -> str:
    return f"Cannot connect to the Docker daemon at {host}. Is the docker daemon running?\n"


def tls_ca_missing() -> str:
    return (
        'could not read CA certificate "/root/.docker/ca.pem": '
        "open /root/.docker/ca.pem: no such file or directory\n"
    )


def daemon_start_lines() -> list[str]:
    return [
        "+ exec rootlesskit --state-dir=/run/user/1000/dockerd-rootless --net=slirp4netns --mtu=65520 "
        "--slirp4netns-sandbox=auto --slirp4netns-seccomp=auto --disable-host-loopback --port-driver=builtin "
        "--copy-up=/etc --copy-up=/run --propagation=rslave dockerd --host tcp://127.0.0.1:2375",
        'level=info msg="Starting up"',
        'level=warning msg="Binding to IP address without --tlsverify is insecure and gives root access '
        'on this machine to everyone who has access to your network." host="tcp://127.0.0.1:2375"',
        'level=info msg="Loading containers: start."',
    ]


def daemon_ready_lines() -> list[str]:
    return [
        'level=info msg="Loading containers: done."',
        'level=info msg="Docker daemon" commit=41ca978 containerd-snapshotter=false storage-driver=overlay2 '
        "version=27.3.1",
        'level=info msg="Daemon has completed initialization"',
        'level=info msg="API listen on 127.0.0.1:2375"',
    ]


def daemon_failed_lines() -> list[str]:
    return [
        'level=error msg="failed to start daemon: Error initializing network controller: error '
        'obtaining controller instance: failed to register \\"bridge\\" driver: unable to add return rule '
        'in DOCKER-ISOLATION-STAGE-1 chain"',
        "[rootlesskit:child ] error: command [dockerd --host tcp://127.0.0.1:2375] exited: exit status 1",
    ]


PID_FILE_FOUND = (
    'level=error msg="failed to start daemon, ensure docker is not running or delete '
    '/run/user/1000/docker.pid: process with PID 42 is still running"'
)
