// The LDAP target server of the local stack: the UnboundID LDAP SDK's in-memory directory server with two
// listeners over one data set (plain LDAP that offers StartTLS, and LDAPS), the SDK's standard schema plus the
// account-lock attributes in schema/, seeded from an LDIF file. The in-memory server tool serves a single
// listener, hence this launcher; scripts/stack/ldap.mjs compiles it with javac (JDK 11+) and runs it.
//
// Arguments (all required, in this order): base DN, LDIF file, extra schema file, LDAP port, LDAPS port, PKCS12
// key store, key store password, admin bind DN, admin password file (read, not passed on the command line);
// optionally an access log file (every request and result, for debugging; off by default: it slows the server).
import com.unboundid.ldap.listener.InMemoryDirectoryServer;
import com.unboundid.ldap.listener.InMemoryDirectoryServerConfig;
import com.unboundid.asn1.ASN1OctetString;
import com.unboundid.ldap.listener.InMemoryExtendedOperationHandler;
import com.unboundid.ldap.listener.InMemoryListenerConfig;
import com.unboundid.ldap.listener.InMemoryRequestHandler;
import com.unboundid.ldap.listener.interceptor.InMemoryInterceptedAddRequest;
import com.unboundid.ldap.listener.interceptor.InMemoryInterceptedDeleteRequest;
import com.unboundid.ldap.listener.interceptor.InMemoryInterceptedModifyRequest;
import com.unboundid.ldap.listener.interceptor.InMemoryInterceptedSearchRequest;
import com.unboundid.ldap.listener.interceptor.InMemoryOperationInterceptor;
import com.unboundid.ldap.sdk.DN;
import com.unboundid.ldap.sdk.ExtendedRequest;
import com.unboundid.ldap.sdk.ExtendedResult;
import com.unboundid.ldap.sdk.LDAPException;
import com.unboundid.ldap.sdk.OperationType;
import com.unboundid.ldap.sdk.ResultCode;
import com.unboundid.ldap.sdk.schema.Schema;
import com.unboundid.util.ssl.KeyStoreKeyManager;
import com.unboundid.util.ssl.SSLUtil;
import com.unboundid.util.ssl.TrustAllTrustManager;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

public final class TargetDirectory {
  public static void main(String[] args) throws Exception {
    if (args.length != 9 && args.length != 10) {
      System.err.println("usage: TargetDirectory baseDN ldif schema ldapPort ldapsPort keyStore keyStorePassword adminDN adminPasswordFile [accessLogFile]");
      System.exit(2);
    }
    String baseDN = args[0];
    int ldapPort = Integer.parseInt(args[3]);
    int ldapsPort = Integer.parseInt(args[4]);
    String adminPassword = Files.readString(Path.of(args[8]), StandardCharsets.UTF_8).trim();

    InMemoryDirectoryServerConfig config = new InMemoryDirectoryServerConfig(baseDN);
    config.setSchema(Schema.mergeSchemas(Schema.getDefaultStandardSchema(), Schema.getSchema(args[2])));
    config.addAdditionalBindCredentials(args[7], adminPassword);
    // Writes and reads need a bind: an anonymous write is refused with insufficientAccessRights (StartTLS, an
    // extended operation, stays open before the bind).
    config.setAuthenticationRequiredOperationTypes(EnumSet.of(OperationType.ADD, OperationType.DELETE,
        OperationType.MODIFY, OperationType.MODIFY_DN, OperationType.COMPARE, OperationType.SEARCH));
    if (args.length == 10) {
      java.util.logging.FileHandler accessLog = new java.util.logging.FileHandler(args[9], true);
      accessLog.setFormatter(new java.util.logging.Formatter() {
        @Override
        public String format(java.util.logging.LogRecord record) {
          return record.getMessage() + System.lineSeparator();
        }
      });
      config.setAccessLogHandler(accessLog);
    } else {
      config.setAccessLogHandler(null);
    }
    config.setVendorName("Provisio local stack (UnboundID in-memory directory server)");
    Faults faults = new Faults(new DN(args[7]));
    config.addInMemoryOperationInterceptor(faults);
    config.addExtendedOperationHandler(faults.handler());

    SSLUtil serverSSL = new SSLUtil(new KeyStoreKeyManager(args[5], args[6].toCharArray(), "PKCS12", null), new TrustAllTrustManager());
    InetAddress loopback = InetAddress.getByName("127.0.0.1");
    config.setListenerConfigs(
        InMemoryListenerConfig.createLDAPConfig("ldap", loopback, ldapPort, serverSSL.createSSLSocketFactory()),
        InMemoryListenerConfig.createLDAPSConfig("ldaps", loopback, ldapsPort, serverSSL.createSSLServerSocketFactory(), null));

    InMemoryDirectoryServer server = new InMemoryDirectoryServer(config);
    int entries = server.importFromLDIF(true, args[1]);
    server.startListening();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> server.shutDown(true)));
    System.out.println("ready: " + entries + " entries under " + baseDN + ", ldap 127.0.0.1:" + ldapPort + " (StartTLS), ldaps 127.0.0.1:" + ldapsPort);
    System.out.flush();
    Thread.currentThread().join();
  }

  /**
   * Faults for tests, per subtree: operations on entries at or below a faulted DN answer `unavailable` (52) or
   * `other` (80), or are held back by a delay, so a test breaks only its own container and other tests sharing
   * the server go on. Switched with the extended operation FAULT_OID (admin only), whose value is
   * "<none|unavailable|server_error|latency> <delay ms> <subtree DN>".
   */
  static final class Faults extends InMemoryOperationInterceptor {
    static final String FAULT_OID = "1.3.6.1.4.1.32473.1.1";
    private final DN admin;
    private final Map<DN, String[]> bySubtree = new ConcurrentHashMap<>();

    Faults(DN admin) {
      this.admin = admin;
    }

    InMemoryExtendedOperationHandler handler() {
      return new InMemoryExtendedOperationHandler() {
        @Override
        public String getExtendedOperationHandlerName() {
          return "Provisio test faults";
        }

        @Override
        public List<String> getSupportedExtendedRequestOIDs() {
          return Arrays.asList(FAULT_OID);
        }

        @Override
        public ExtendedResult processExtendedOperation(InMemoryRequestHandler handler, int messageID, ExtendedRequest request) {
          try {
            if (!admin.equals(handler.getAuthenticatedDN())) {
              return new ExtendedResult(messageID, ResultCode.INSUFFICIENT_ACCESS_RIGHTS, "only the admin switches faults", null, null, null, null, null);
            }
            String[] parts = request.getValue() == null ? new String[0] : request.getValue().stringValue().split(" ", 3);
            if (parts.length != 3) throw new IllegalArgumentException("expected '<kind> <delay ms> <subtree DN>'");
            DN subtree = new DN(parts[2]);
            if (parts[0].equals("none")) bySubtree.remove(subtree);
            else bySubtree.put(subtree, new String[] {parts[0], String.valueOf(Long.parseLong(parts[1]))});
            return new ExtendedResult(messageID, ResultCode.SUCCESS, null, null, null, FAULT_OID, new ASN1OctetString("ok"), null);
          } catch (Exception e) {
            return new ExtendedResult(messageID, ResultCode.PROTOCOL_ERROR, e.getMessage(), null, null, null, null, null);
          }
        }
      };
    }

    private void apply(String dn) throws LDAPException {
      if (bySubtree.isEmpty()) return;
      DN target = new DN(dn);
      for (Map.Entry<DN, String[]> fault : bySubtree.entrySet()) {
        if (!target.isDescendantOf(fault.getKey(), true)) continue;
        switch (fault.getValue()[0]) {
          case "unavailable":
            throw new LDAPException(ResultCode.UNAVAILABLE, "test fault: unavailable");
          case "server_error":
            throw new LDAPException(ResultCode.OTHER, "test fault: internal error");
          case "latency":
            try {
              Thread.sleep(Long.parseLong(fault.getValue()[1]));
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return;
          default:
            return;
        }
      }
    }

    @Override
    public void processSearchRequest(InMemoryInterceptedSearchRequest request) throws LDAPException {
      apply(request.getRequest().getBaseDN());
    }

    @Override
    public void processAddRequest(InMemoryInterceptedAddRequest request) throws LDAPException {
      apply(request.getRequest().getDN());
    }

    @Override
    public void processModifyRequest(InMemoryInterceptedModifyRequest request) throws LDAPException {
      apply(request.getRequest().getDN());
    }

    @Override
    public void processDeleteRequest(InMemoryInterceptedDeleteRequest request) throws LDAPException {
      apply(request.getRequest().getDN());
    }
  }
}
