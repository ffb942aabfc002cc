select * from mart_trust_provision_link
