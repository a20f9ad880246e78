#pragma once
/// \file
/// TLS material made at test time with the OpenSSL C API: a self-signed CA and a server certificate
/// signed by it, written as PEM files into a folder (use a TempDir). Nothing is committed or fetched.
///
///   parlab::test::TempDir dir;
///   auto tls = parlab::test::make_self_signed(dir.path());            // localhost + 127.0.0.1
///   server uses tls.cert / tls.key; a client trusts tls.ca_cert (e.g. ClientOptions::ca_file)
///   auto other = parlab::test::make_self_signed(dir.path(), {.dns = {"other.invalid"}, .ips = {}},
///                                               "other");               // for host name mismatch

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace parlab::test {

/// The names a server certificate is valid for (its subjectAltName) and its common name.
struct CertNames {
  std::vector<std::string> dns{"localhost"};
  std::vector<std::string> ips{"127.0.0.1"};
  std::string common_name = "localhost";
};

/// PEM files written by make_self_signed.
struct TlsFiles {
  std::filesystem::path ca_cert;  ///< the self-signed CA certificate: what a client must trust
  std::filesystem::path cert;     ///< the server certificate, signed by the CA
  std::filesystem::path key;      ///< the server's private key (unencrypted)
};

namespace detail_tls {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

inline void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("make_self_signed: ") + what + " failed");
}

inline Pkey make_key() {
  Pkey key{EVP_EC_gen("P-256")};
  require(key != nullptr, "EC key generation");
  return key;
}

inline void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  require(ext != nullptr, "X509V3_EXT_conf_nid");
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  require(added == 1, "X509_add_ext");
}

/// An unsigned certificate for `key` named `cn`, issued by `issuer` (nullptr: by itself).
inline Cert make_cert(EVP_PKEY* key, const std::string& cn, long serial, X509* issuer) {
  Cert cert{X509_new()};
  require(cert != nullptr, "X509_new");
  X509* x = cert.get();
  require(X509_set_version(x, 2) == 1, "X509_set_version");
  require(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1, "serial number");
  require(X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr, "notBefore");
  require(X509_gmtime_adj(X509_getm_notAfter(x), 7L * 24 * 3600) != nullptr, "notAfter");
  require(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  require(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("parlab tests"), -1, -1, 0) == 1,
          "subject O");
  require(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) == 1,
          "subject CN");
  X509* signer = issuer != nullptr ? issuer : x;
  require(X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1, "X509_set_issuer_name");
  return cert;
}

inline void write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> out{BIO_new_file(path.c_str(), "w")};
  require(out != nullptr, "opening the PEM file");
  if (cert != nullptr) require(PEM_write_bio_X509(out.get(), cert) == 1, "PEM_write_bio_X509");
  if (key != nullptr) {
    require(PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
            "PEM_write_bio_PrivateKey");
  }
}

}  // namespace detail_tls

/// Writes `<stem>-ca.pem`, `<stem>-cert.pem` and `<stem>-key.pem` into `dir`: a CA valid for a
/// week and a server certificate it signed for `names`. Throws std::runtime_error on failure.
inline TlsFiles make_self_signed(const std::filesystem::path& dir, const CertNames& names = {},
                                 const std::string& stem = "server") {
  using namespace detail_tls;
  const Pkey ca_key = make_key();
  const Cert ca = make_cert(ca_key.get(), "parlab test CA " + stem, 1, nullptr);
  add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  require(X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0, "signing the CA");

  const Pkey key = make_key();
  const Cert cert = make_cert(key.get(), names.common_name, 2, ca.get());
  add_extension(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), ca.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  std::string alt;
  for (const auto& d : names.dns)
    alt += (alt.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : names.ips)
    alt += (alt.empty() ? "IP:" : ",IP:") + ip;
  if (!alt.empty()) add_extension(cert.get(), ca.get(), NID_subject_alt_name, alt);
  require(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0, "signing the server certificate");

  TlsFiles files{dir / (stem + "-ca.pem"), dir / (stem + "-cert.pem"), dir / (stem + "-key.pem")};
  write_pem(files.ca_cert, ca.get(), nullptr);
  write_pem(files.cert, cert.get(), nullptr);
  write_pem(files.key, nullptr, key.get());
  return files;
}

}  // namespace parlab::test
