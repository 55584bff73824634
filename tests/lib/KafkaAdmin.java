// KafkaAdmin: the few admin operations the Kafka e2e scenarios need and kcat lacks, run as a
// single-file Java program against the cached broker jars (tests/lib/kafka.sh kafka_admin).
//   create TOPIC PARTITIONS [KEY=VALUE...]   a topic with these topic configs
//   config TOPIC KEY=VALUE...                alters topic configs (incremental SET)
//   delete-records TOPIC PARTITION OFFSET    deletes the records below OFFSET (low watermark)
// Brokers come from $KAFKA_BROKERS.
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;

public class KafkaAdmin {
    static Map<String, String> kv(String[] a, int from) {
        Map<String, String> m = new HashMap<>();
        for (int i = from; i < a.length; i++) {
            int eq = a[i].indexOf('=');
            m.put(a[i].substring(0, eq), a[i].substring(eq + 1));
        }
        return m;
    }

    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", System.getenv("KAFKA_BROKERS"));
        try (Admin admin = Admin.create(p)) {
            switch (a[0]) {
            case "create":
                NewTopic t = new NewTopic(a[1], Integer.parseInt(a[2]), (short) 1).configs(kv(a, 3));
                admin.createTopics(List.of(t)).all().get();
                break;
            case "config":
                List<AlterConfigOp> ops = new ArrayList<>();
                for (Map.Entry<String, String> e : kv(a, 2).entrySet())
                    ops.add(new AlterConfigOp(new ConfigEntry(e.getKey(), e.getValue()),
                                              AlterConfigOp.OpType.SET));
                admin.incrementalAlterConfigs(
                         Map.of(new ConfigResource(ConfigResource.Type.TOPIC, a[1]), ops))
                    .all().get();
                break;
            case "delete-records":
                admin.deleteRecords(Map.of(new TopicPartition(a[1], Integer.parseInt(a[2])),
                                           RecordsToDelete.beforeOffset(Long.parseLong(a[3]))))
                    .all().get();
                break;
            default:
                System.err.println("KafkaAdmin: unknown operation " + a[0]);
                System.exit(2);
            }
        }
    }
}
