-- generated from pipelines/golden_tenant/pipeline.yaml — edit it instead
CREATE OR REPLACE FUNCTION "shop"."all_types_versioning"() RETURNS trigger
LANGUAGE plpgsql AS $versioning$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        -- greatest(): a version a concurrent, later-started transaction wrote keeps its start
        NEW."sys_period" := tstzrange(greatest(lower(OLD."sys_period"), now()), NULL);
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO "shop"."all_types_history" ("tenant_id", "Id", "ABit", "ATinyint", "ASmallint", "ABigint", "ADecimal", "ADecimalDefault", "ANumeric", "AMoney", "ASmallmoney", "AFloat", "AFloat24", "ADouble", "AReal", "ADate", "ATime", "ATimeDefault", "ADatetime", "ADatetime2", "ASmalldatetime", "ADatetimeoffset", "AChar", "ANchar", "AVarchar", "AVarcharMax", "ANvarchar", "ANvarcharMax", "AText", "ANtext", "ABinary", "AVarbinary", "AVarbinaryMax", "AImage", "AUniqueidentifier", "AXml", "ARowversion", "ATimestamp", "ASysname", "ASqlVariant", "AHierarchyid", "AGeography", "AGeometry", "AOverride", "__cdc_operation", "__cdc_lsn", "__cdc_seq", "__cdc_commit_time", "__cdc_loaded_at", "sys_period")
        SELECT o."tenant_id", o."Id", o."ABit", o."ATinyint", o."ASmallint", o."ABigint", o."ADecimal", o."ADecimalDefault", o."ANumeric", o."AMoney", o."ASmallmoney", o."AFloat", o."AFloat24", o."ADouble", o."AReal", o."ADate", o."ATime", o."ATimeDefault", o."ADatetime", o."ADatetime2", o."ASmalldatetime", o."ADatetimeoffset", o."AChar", o."ANchar", o."AVarchar", o."AVarcharMax", o."ANvarchar", o."ANvarcharMax", o."AText", o."ANtext", o."ABinary", o."AVarbinary", o."AVarbinaryMax", o."AImage", o."AUniqueidentifier", o."AXml", o."ARowversion", o."ATimestamp", o."ASysname", o."ASqlVariant", o."AHierarchyid", o."AGeography", o."AGeometry", o."AOverride", o."__cdc_operation", o."__cdc_lsn", o."__cdc_seq", o."__cdc_commit_time", o."__cdc_loaded_at", tstzrange(lower(o."sys_period"), now())
        FROM old_rows AS o
        WHERE lower(o."sys_period") < now()
          AND NOT EXISTS (SELECT FROM new_rows AS n
                          WHERE n."tenant_id" = o."tenant_id" AND n."Id" = o."Id" AND n."sys_period" = o."sys_period");
    ELSE
        INSERT INTO "shop"."all_types_history" ("tenant_id", "Id", "ABit", "ATinyint", "ASmallint", "ABigint", "ADecimal", "ADecimalDefault", "ANumeric", "AMoney", "ASmallmoney", "AFloat", "AFloat24", "ADouble", "AReal", "ADate", "ATime", "ATimeDefault", "ADatetime", "ADatetime2", "ASmalldatetime", "ADatetimeoffset", "AChar", "ANchar", "AVarchar", "AVarcharMax", "ANvarchar", "ANvarcharMax", "AText", "ANtext", "ABinary", "AVarbinary", "AVarbinaryMax", "AImage", "AUniqueidentifier", "AXml", "ARowversion", "ATimestamp", "ASysname", "ASqlVariant", "AHierarchyid", "AGeography", "AGeometry", "AOverride", "__cdc_operation", "__cdc_lsn", "__cdc_seq", "__cdc_commit_time", "__cdc_loaded_at", "sys_period")
        SELECT o."tenant_id", o."Id", o."ABit", o."ATinyint", o."ASmallint", o."ABigint", o."ADecimal", o."ADecimalDefault", o."ANumeric", o."AMoney", o."ASmallmoney", o."AFloat", o."AFloat24", o."ADouble", o."AReal", o."ADate", o."ATime", o."ATimeDefault", o."ADatetime", o."ADatetime2", o."ASmalldatetime", o."ADatetimeoffset", o."AChar", o."ANchar", o."AVarchar", o."AVarcharMax", o."ANvarchar", o."ANvarcharMax", o."AText", o."ANtext", o."ABinary", o."AVarbinary", o."AVarbinaryMax", o."AImage", o."AUniqueidentifier", o."AXml", o."ARowversion", o."ATimestamp", o."ASysname", o."ASqlVariant", o."AHierarchyid", o."AGeography", o."AGeometry", o."AOverride", o."__cdc_operation", o."__cdc_lsn", o."__cdc_seq", o."__cdc_commit_time", o."__cdc_loaded_at", tstzrange(lower(o."sys_period"), now())
        FROM old_rows AS o
        WHERE lower(o."sys_period") < now();
    END IF;
    RETURN NULL;
END
$versioning$;
