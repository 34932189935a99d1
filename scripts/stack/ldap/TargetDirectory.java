// The LDAP target server of the local stack: the UnboundID LDAP SDK's in-memory directory server with two
// listeners over one data set (plain LDAP that offers StartTLS, and LDAPS), the SDK's standard schema plus the
// account-lock attributes in schema/, seeded from an LDIF file. The in-memory server tool serves a single
// listener, hence this launcher; `java -cp <sdk jar> TargetDirectory.java` runs it from source (JDK 11+).
//
// Arguments (all required, in this order): base DN, LDIF file, extra schema file, LDAP port, LDAPS port, PKCS12
// key store, key store password, admin bind DN, admin password file (read, not passed on the command line).
import com.unboundid.ldap.listener.InMemoryDirectoryServer;
import com.unboundid.ldap.listener.InMemoryDirectoryServerConfig;
import com.unboundid.ldap.listener.InMemoryListenerConfig;
import com.unboundid.ldap.sdk.OperationType;
import com.unboundid.ldap.sdk.schema.Schema;
import com.unboundid.util.ssl.KeyStoreKeyManager;
import com.unboundid.util.ssl.SSLUtil;
import com.unboundid.util.ssl.TrustAllTrustManager;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;

public final class TargetDirectory {
  public static void main(String[] args) throws Exception {
    if (args.length != 9) {
      System.err.println("usage: TargetDirectory baseDN ldif schema ldapPort ldapsPort keyStore keyStorePassword adminDN adminPasswordFile");
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
    config.setAccessLogHandler(null);
    config.setVendorName("Provisio local stack (UnboundID in-memory directory server)");

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
}
