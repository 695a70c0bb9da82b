# The kind node image, assembled by scripts/node-image.sh (docs/node-image.md) in a context it prepares:
#   kind/       kind's node files, extracted from the sigs.k8s.io/kind module zip at build time
#   inception/  toolchain/node/files (our entrypoint and the image import step)
#   bin/        kubelet, kubeadm, kubectl (built from k8s.io/kubernetes), crictl
#   manifests/  default-cni.yaml (kindnet-lite), default-storage.yaml (kind's, with our images)
#   images.tar  every image kubeadm and the manifests name, `docker save`d
FROM inception/base:bookworm AS build
# Marks this stage's untagged image, which scripts/node-image.sh prunes once superseded.
LABEL io.inception.node-image=1
ARG KUBERNETES_VERSION
ARG PAUSE_IMAGE
# Debian's node userland: what kind's base image installs, with Debian's containerd, runc and CNI
# plugins instead of kind's own builds. Then kind's systemd trimming.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      systemd systemd-sysv dbus \
      containerd runc containernetworking-plugins \
      conntrack iptables nftables iproute2 ethtool util-linux mount kmod libseccomp2 pigz \
      bash ca-certificates curl jq procps socat e2fsprogs \
 && rm -rf /var/lib/apt/lists/* \
 && find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
 && echo "ReadKMsg=no" >>/etc/systemd/journald.conf
COPY kind/ /
COPY inception/ /
# kind's units and containerd config, adapted to Debian's containerd 1.6:
# - containerd is /usr/bin/containerd; no fuse-overlayfs snapshotter (rootless only);
# - restrict_oom_score_adj = true: the node cannot grant the negative oom_score_adj pod sandboxes ask
#   for where it runs without CAP_SYS_RESOURCE;
# - the sandbox image is the pause image kubeadm names;
# - cri-base.json made as kind makes it (default spec + product-files hook, no rlimits);
# - systemd-sysctl is masked: global sysctls are the host's (see inception-entrypoint).
RUN chmod 0755 /kind /kind/bin /kind/bin/* /usr/local/bin/* \
 && rm -f /etc/systemd/system/containerd-fuse-overlayfs.service \
 && sed -i 's#^ExecStart=/usr/local/bin/containerd$#ExecStart=/usr/bin/containerd#' /etc/systemd/system/containerd.service \
 && grep -q '^ExecStart=/usr/bin/containerd$' /etc/systemd/system/containerd.service \
 && sed -i -e 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' \
      -e "s#^\( *sandbox_image = \).*#\1\"$PAUSE_IMAGE\"#" /etc/containerd/config.toml \
 && grep -q '^ *restrict_oom_score_adj = true$' /etc/containerd/config.toml \
 && grep -q "^ *sandbox_image = \"$PAUSE_IMAGE\"$" /etc/containerd/config.toml \
 && ctr oci spec \
      | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
      | jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json \
 && mkdir -p /opt/cni && ln -s /usr/lib/cni /opt/cni/bin \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
 && systemctl mask systemd-binfmt.service systemd-sysctl.service \
 && mkdir -p /etc/kubernetes/manifests \
 && echo "$KUBERNETES_VERSION" >/kind/version
COPY bin/ /usr/bin/
COPY manifests/ /kind/manifests/
COPY images.tar /kind/images.tar
RUN /usr/local/bin/inception-import-images /kind/images.tar && rm -f /kind/images.tar

# One layer, without the images tarball (kind squashes its node image the same way).
FROM scratch
COPY --from=build / /
ENV container=docker PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/inception-entrypoint", "/usr/local/bin/entrypoint", "/sbin/init"]
